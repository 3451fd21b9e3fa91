// Retry state and the attempt log, in Redis, shared by every dispatcher instance.
//
// A task is one (event, endpoint) delivery waiting for its next attempt. Its record is a hash
// with a TTL; its due time is its score in a sorted set. claim_due() moves due tasks
// atomically (one Lua script) into a "claimed" set scored by lease expiry, so two instances
// never claim the same task at once, and a crashed instance's claims become due again when
// their lease runs out. A claim ends with complete() (delivered, dead-lettered, dropped) or
// reschedule() (failed again).
//
// The attempt log keeps every attempt's outcome, newest first, per endpoint (for the API and
// `tresse-dispatcher deliveries list`) and per event (its whole history, for dead letters);
// both lists are capped, per-event lists also expire.
//
//   retry::store retries(redis);
//   retries.schedule(task, now + *policy.next_delay(1));  // durable before the offset commit
//   for (auto& t : *retries.claim_due(now, 50, std::chrono::minutes(2))) {
//     ... deliver ...; ok ? retries.complete(t.id()) : retries.reschedule(t, now + delay);
//   }
//
// The schedule is split into store_options::shards shards (redis/keys.hpp), each under its own
// hash tag; a task lives in its endpoint's shard, so every script here touches one slot, and
// only keys it declares (a Redis Cluster migrates a slot key by key: a script reading keys it
// was not given may run where some of them are not). A claim is a script that leases due ids,
// then a pipelined read of their records (claim_op). claim_due claims from every shard; the
// delivery path claims them in turn (delivery/engine.cpp). All methods are thread-safe.
// Errors: transient when Redis is unreachable.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kafka/dead_letter.hpp"
#include "redis/client.hpp"
#include "redis/keys.hpp"
#include "redis/request.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::retry {

using clock = std::chrono::system_clock;

struct task {
  std::string event_id;
  std::string endpoint_id;
  std::string business_id;
  std::string event_type;
  std::string body;  // the event bytes, exactly as every attempt sends them
  int attempts = 0;  // attempts made so far
  clock::time_point first_attempt_at;
  std::string last_error;
  kafka::dead_letter::source_ref source;  // where the event came from, for its dead letter
  // An ordered endpoint's delivery (delivery/ordered_queue.hpp): its tresse-sequence number
  // and the resource (data.id) whose queue it heads or waits in; 0 and "" otherwise.
  std::uint64_t sequence = 0;
  std::string resource;
  // Not stored: an ordered head handed out by a release (ordered_queue.hpp), leased to its
  // releaser (its resource's hash names the holder), on no schedule and in no index; completing
  // it removes nothing of the schedule. A task read from Redis (a claim, a reschedule) is not.
  bool leased = false;

  // event_id + ":" + endpoint_id: one task per delivery, whoever schedules it.
  std::string id() const;
};

std::string task_id(std::string_view event_id, std::string_view endpoint_id);

struct attempt_record {
  std::string id;  // "att_" + time-ordered; empty: log_attempt derives one from `at`
  std::string event_id;
  std::string event_type;
  std::string endpoint_id;
  int attempt = 1;  // 1 for the first attempt
  clock::time_point at;
  int status = 0;     // HTTP status; 0 when there was no response (connect error, timeout, ...)
  bool succeeded = false;
  std::string error;  // empty on success, else why it failed
  std::chrono::milliseconds latency{0};
  std::string response_snippet;  // the start of the response body (truncated when stored)
};

// As the API, CLI and dead letters show it (object "delivery_attempt"): "at" in RFC 3339,
// "status"/"error" null when absent.
nlohmann::json to_json(const attempt_record& a);

struct store_options {
  // How long a task record lives after its last (re)schedule; longer than the whole schedule.
  std::chrono::milliseconds task_ttl = std::chrono::hours(24 * 7);
  std::size_t attempts_per_endpoint = 1000;
  std::size_t attempts_per_event = 100;
  std::chrono::milliseconds event_attempts_ttl = std::chrono::hours(24 * 7);
  std::size_t snippet_limit = 1024;  // bytes of response body kept per attempt
  // Retry schedule shards (config retry.shards, 1..keys::max_retry_shards); every instance,
  // the API and the CLI must agree on it (keys::retry_shard_count).
  std::size_t shards = 16;
};

struct backlog_size {
  std::int64_t scheduled = 0;  // waiting for their due time (or due and not yet claimed)
  std::int64_t claimed = 0;    // leased by an instance right now
};

class store {
 public:
  explicit store(std::shared_ptr<redis::client> redis, store_options opts = {});

  // Stores the task due at `due`, atomically. Idempotent per task id: when the task already
  // exists (scheduled or claimed), it is left as it is and this still succeeds.
  status schedule(const task& t, clock::time_point due);

  // Atomically claims up to `limit` tasks due at `now` (including tasks whose earlier lease ran
  // out), leasing them until now + lease. Claimed tasks come back with their records.
  result<std::vector<task>> claim_due(clock::time_point now, std::size_t limit,
                                      std::chrono::milliseconds lease);

  // The delivery ended (delivered, dead-lettered or dropped): the task is gone.
  status complete(std::string_view task_id);

  // A manual redelivery: makes the task due at `now`, creating it when absent. Returns false
  // when the task is claimed right now (an attempt is in flight): nothing is changed then.
  result<bool> schedule_now(const task& t, clock::time_point now);

  // The attempt failed again: stores t's new attempts/last_error and makes it due at `due`.
  // Returns false when the task no longer exists (another instance completed it after our
  // lease ran out): then there is nothing left to retry.
  result<bool> reschedule(const task& t, clock::time_point due);

  // nullopt when absent.
  result<std::optional<task>> get(std::string_view task_id);

  // For metrics: summed over the shards.
  result<backlog_size> backlog();
  static redis::request backlog_commands(std::size_t shards);
  static result<backlog_size> backlog_from_replies(const std::vector<redis::reply>& r);

  // Records shards() in Redis (keys::retry_shard_count) unless a count is there already; a
  // permanent error when that count is another (tasks would be looked for in the wrong shards:
  // `tresse-dispatcher migrate-keys` re-shards), transient when Redis does not answer.
  status check_shard_count();
  // The count recorded in Redis; keys::default_retry_shards when none is.
  static result<std::size_t> recorded_shard_count(redis::client& redis);

  std::size_t shards() const { return opts_.shards; }
  std::size_t shard_of(std::string_view endpoint_id) const {
    return redis::keys::retry_shard(endpoint_id, opts_.shards);
  }
  std::size_t task_shard(std::string_view task_id) const {
    return redis::keys::task_shard(task_id, opts_.shards);
  }


  // Appends to both the endpoint's and the event's attempt lists (capped). A non-empty
  // `event_body` is also kept (once per event, for `event_attempts_ttl`) so that a manual
  // retry can resend the event after its task is gone.
  status log_attempt(const attempt_record& a, std::string_view event_body = {});
  // The event's bytes as kept by log_attempt; nullopt when unknown or expired.
  result<std::optional<std::string>> event_body(std::string_view event_id);
  // The endpoint's attempts, newest first, at most `limit`.
  result<std::vector<attempt_record>> list_attempts(std::string_view endpoint_id,
                                                    std::size_t limit);
  // Every logged attempt of one event, newest first; only those to `endpoint_id` unless it is
  // empty.
  result<std::vector<attempt_record>> attempts_for_event(std::string_view endpoint_id,
                                                         std::string_view event_id);

  // The Management API's operations as round trips for either client (redis/request.hpp);
  // the methods of the same names run these on the store's blocking client.
  redis::operation<bool> schedule_now_op(const task& t, clock::time_point now) const;
  static redis::operation<std::optional<std::string>> event_body_op(std::string_view event_id);
  static redis::operation<std::vector<attempt_record>> list_attempts_op(
      std::string_view endpoint_id, std::size_t limit);
  static redis::operation<std::vector<attempt_record>> attempts_for_event_op(
      std::string_view endpoint_id, std::string_view event_id);

  // What schedule, reschedule, claim_due, complete and log_attempt send, for the delivery
  // path's non-blocking client (delivery/redis_writer.hpp), and what the replies mean. The sync
  // methods above are these plus a blocking round trip, so the layout lives here alone.
  redis::request schedule_call(const task& t, clock::time_point due) const;
  redis::request reschedule_call(const task& t, clock::time_point due) const;  // reply 1: stored
  // ARGV of the schedule scripts: task id, due ms, ttl ms, then the record's field/value pairs
  // (delivery/ordered_queue.cpp writes the same record).
  static std::vector<std::string> task_args(const task& t, clock::time_point due,
                                            std::chrono::milliseconds ttl);
  std::chrono::milliseconds task_ttl() const { return opts_.task_ttl; }
  // Claims up to `limit` due tasks from one shard (0..shards()-1), leased until now + lease,
  // with their records: claim_call's script leases the ids, their records are read by HGETALL
  // in one pipeline, and an id whose record reads empty goes through drop_missing_call (which
  // returns the record if it is there after all, else removes the id: the record expired). A
  // task not read (an error after the claim) stays claimed and comes back after its lease.
  static redis::operation<std::vector<task>> claim_op(std::size_t shard, clock::time_point now,
                                                      std::size_t limit,
                                                      std::chrono::milliseconds lease);
  // claim_op's round trips (reply: the leased ids; the record, or empty when it was dropped).
  static redis::request claim_call(std::size_t shard, clock::time_point now, std::size_t limit,
                                   std::chrono::milliseconds lease);
  static redis::request drop_missing_call(std::size_t shard, std::string_view task_id);
  // {task id, {field, value, ...}, ...} as the ordered release script returns its next task.
  static std::vector<task> tasks_from_reply(const redis::reply& r);
  redis::request complete_commands(std::string_view task_id) const;
  static status complete_from_replies(const std::vector<redis::reply>& r);
  // Several attempts in one request, oldest first: one LPUSH of all their records and one
  // LTRIM per endpoint list (attempts to one endpoint share them), one LPUSH per event list
  // (one event's fan-out shares it) and its PEXPIRE unless no entry `sets_ttl`, one SET NX per
  // event body given.
  //
  // An event list is trimmed only when its LPUSH reply says it outgrew attempts_per_event
  // (trim_commands, a second request): that takes 100 attempts of one event, while an LTRIM
  // per event was one Redis command in four at one endpoint. Until then it is over the cap by
  // at most that one request's records.
  struct logged {
    const attempt_record* attempt;
    std::string_view event_body;  // empty: not kept with this one
    // The event list's TTL comes with this entry. A record's fan-out sets it once, with the
    // delivery that also keeps the body: at 8 endpoints a PEXPIRE per delivery was 0.74 of
    // 1.73 Redis commands per delivery, the deliveries of one event rarely sharing a batch.
    bool sets_ttl = true;
  };
  struct log_request {
    redis::request commands;
    std::vector<std::pair<std::size_t, std::string>> event_lists;  // LPUSH reply index, key
  };
  log_request log_attempts_commands(const std::vector<logged>& batch) const;
  log_request log_attempt_commands(const attempt_record& a, std::string_view event_body = {}) const;
  // The LTRIMs of the event lists `written`'s replies show over the cap (none: empty).
  redis::request trim_commands(const log_request& written,
                               const std::vector<redis::reply>& replies) const;

 private:
  // KEYS of the schedule scripts: task hash, due, claimed, the endpoint's index.
  std::vector<std::string> task_keys(const task& t) const;

  std::shared_ptr<redis::client> redis_;
  store_options opts_;
};

}  // namespace tresse::dispatcher::retry
