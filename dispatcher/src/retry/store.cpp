#include "retry/store.hpp"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <utility>

#include "redis/keys.hpp"
#include "tresse/common/event.hpp"
#include "tresse/common/ids.hpp"
#include "tresse/common/json_text.hpp"

namespace tresse::dispatcher::retry {
namespace {

namespace keys = redis::keys;
using json = nlohmann::json;

std::int64_t unix_ms(clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

clock::time_point from_unix_ms(std::int64_t ms) {
  return clock::time_point(
      std::chrono::duration_cast<clock::duration>(std::chrono::milliseconds(ms)));
}

// KEYS: task hash, due zset, claimed zset, the endpoint's task index (all of one shard).
// ARGV: task id, due ms, ttl ms, field/value pairs.
const redis::script& schedule_script() {
  static const redis::script s(R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('PEXPIRE', KEYS[4], ARGV[3])
return 1
)lua");
  return s;
}

// Same arguments; only for a task that still exists.
const redis::script& reschedule_script() {
  static const redis::script s(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('PEXPIRE', KEYS[4], ARGV[3])
return 1
)lua");
  return s;
}

// Same arguments, due = now: an existing task that is not claimed just becomes due now.
// Returns 0 when the task is claimed (in flight), else 1.
const redis::script& schedule_now_script() {
  static const redis::script s(R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('ZSCORE', KEYS[3], ARGV[1]) then return 0 end
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
  redis.call('SADD', KEYS[4], ARGV[1])
  return 1
end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('PEXPIRE', KEYS[4], ARGV[3])
return 1
)lua");
  return s;
}

// KEYS: one shard's due zset and claimed zset. ARGV: now ms, limit, lease-until ms.
// Expired leases first go back to the due set (at their lease expiry, so they are due now);
// then the earliest due tasks move to the claimed set, leased. Returns their ids. The records
// are read apart (claim_op), by declared keys: on a Redis Cluster a script sees only the keys
// of its node, and while a slot migrates key by key a record may already be on the target when
// this runs on the source. Reading it here, undeclared, found nothing and dropped the task.
const redis::script& claim_script() {
  static const redis::script s(R"lua(
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'WITHSCORES')
for i = 1, #expired, 2 do
  redis.call('ZADD', KEYS[1], expired[i + 1], expired[i])
  redis.call('ZREM', KEYS[2], expired[i])
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZADD', KEYS[2], ARGV[3], id)
end
return ids
)lua");
  return s;
}

// KEYS: claimed zset, the task's record, its endpoint's task index. ARGV: task id.
// For a claimed task whose record read empty: the record if it exists after all, else the task
// leaves the claimed set and the index (its record expired). Its keys declared, Redis runs it
// only where all of them are (ASK or TRYAGAIN while the slot migrates), so a record on its way
// to another node is never taken for an expired one.
const redis::script& drop_missing_script() {
  static const redis::script s(R"lua(
local fields = redis.call('HGETALL', KEYS[2])
if #fields > 0 then return fields end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[1])
return fields
)lua");
  return s;
}

std::vector<std::string> task_argv(const task& t, clock::time_point due,
                                   std::chrono::milliseconds ttl) {
  std::vector<std::string> out{t.id(),
          std::to_string(unix_ms(due)),
          std::to_string(ttl.count()),
          "event_id",
          t.event_id,
          "endpoint_id",
          t.endpoint_id,
          "business_id",
          t.business_id,
          "event_type",
          t.event_type,
          "body",
          t.body,
          "attempts",
          std::to_string(t.attempts),
          "first_attempt_at",
          std::to_string(unix_ms(t.first_attempt_at)),
          "last_error",
          t.last_error,
          "source_topic",
          t.source.topic,
          "source_partition",
          std::to_string(t.source.partition),
          "source_offset",
          std::to_string(t.source.offset),
          "source_key",
          t.source.key};
  // Only an ordered delivery has these: an unordered one pays nothing for them.
  if (t.sequence > 0) {
    out.insert(out.end(), {"sequence", std::to_string(t.sequence), "resource", t.resource});
  }
  return out;
}

task task_from_fields(const std::vector<redis::reply>& fields) {
  task t;
  for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string& k = fields[i].str;
    const std::string& v = fields[i + 1].str;
    if (k == "event_id")
      t.event_id = v;
    else if (k == "endpoint_id")
      t.endpoint_id = v;
    else if (k == "business_id")
      t.business_id = v;
    else if (k == "event_type")
      t.event_type = v;
    else if (k == "body")
      t.body = v;
    else if (k == "attempts")
      t.attempts = std::atoi(v.c_str());
    else if (k == "first_attempt_at")
      t.first_attempt_at = from_unix_ms(std::atoll(v.c_str()));
    else if (k == "last_error")
      t.last_error = v;
    else if (k == "source_topic")
      t.source.topic = v;
    else if (k == "source_partition")
      t.source.partition = std::atoi(v.c_str());
    else if (k == "source_offset")
      t.source.offset = std::atoll(v.c_str());
    else if (k == "source_key")
      t.source.key = v;
    else if (k == "sequence")
      t.sequence = std::strtoull(v.c_str(), nullptr, 10);
    else if (k == "resource")
      t.resource = v;
  }
  return t;
}

// Written as text, not through a JSON DOM: one of these is encoded for every attempt.
// One record per attempt, on every delivery: the keys go in as literal fragments (append_key
// escaped each of the 11, ~200 instructions apiece).
std::string encode(const attempt_record& a, std::size_t snippet_limit) {
  namespace jt = tresse::json_text;
  std::string out;
  out.reserve(256 + std::min(a.response_snippet.size(), snippet_limit));
  out.append("{\"id\":");
  jt::append_string(out, a.id.empty() ? tresse::ids::time_ordered("att_", a.at) : a.id);
  out.append(",\"event_id\":");
  jt::append_string(out, a.event_id);
  out.append(",\"event_type\":");
  jt::append_string(out, a.event_type);
  out.append(",\"endpoint_id\":");
  jt::append_string(out, a.endpoint_id);
  out.append(",\"attempt\":");
  jt::append_int(out, a.attempt);
  out.append(",\"at\":");
  jt::append_int(out, unix_ms(a.at));
  out.append(",\"status\":");
  jt::append_int(out, a.status);
  out.append(",\"succeeded\":");
  jt::append_bool(out, a.succeeded);
  out.append(",\"error\":");
  jt::append_string(out, a.error);
  out.append(",\"latency_ms\":");
  jt::append_int(out, a.latency.count());
  out.append(",\"response\":");
  // The snippet is whatever the endpoint sent: invalid UTF-8 becomes U+FFFD, never an exception.
  jt::append_string(out, std::string_view(a.response_snippet).substr(0, snippet_limit));
  out.push_back('}');
  return out;
}

std::vector<attempt_record> decode_attempts(const redis::reply& r,
                                            std::string_view only_endpoint = {}) {
  std::vector<attempt_record> out;
  for (const auto& e : r.elements) {
    json j = json::parse(e.str, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) continue;  // not written by us; skip rather than fail the listing
    attempt_record a;
    a.endpoint_id = j.value("endpoint_id", "");
    if (!only_endpoint.empty() && a.endpoint_id != only_endpoint) continue;
    a.id = j.value("id", "");
    a.event_id = j.value("event_id", "");
    a.event_type = j.value("event_type", "");
    a.attempt = j.value("attempt", 0);
    a.at = from_unix_ms(j.value("at", std::int64_t{0}));
    a.status = j.value("status", 0);
    a.succeeded = j.value("succeeded", false);
    a.error = j.value("error", "");
    a.latency = std::chrono::milliseconds(j.value("latency_ms", std::int64_t{0}));
    a.response_snippet = j.value("response", "");
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace

std::string task_id(std::string_view event_id, std::string_view endpoint_id) {
  std::string id(event_id);
  id.push_back(':');
  id.append(endpoint_id);
  return id;
}

std::string task::id() const { return task_id(event_id, endpoint_id); }

std::vector<std::string> store::task_args(const task& t, clock::time_point due,
                                          std::chrono::milliseconds ttl) {
  return task_argv(t, due, ttl);
}

store::store(std::shared_ptr<redis::client> redis, store_options opts)
    : redis_(std::move(redis)), opts_(opts) {
  opts_.shards = std::clamp<std::size_t>(opts_.shards, 1, keys::max_retry_shards);
  if (opts_.attempts_per_endpoint == 0) opts_.attempts_per_endpoint = 1;
  if (opts_.attempts_per_event == 0) opts_.attempts_per_event = 1;
}

std::vector<std::string> store::task_keys(const task& t) const {
  const std::size_t n = shard_of(t.endpoint_id);
  return {keys::retry_task(n, t.id()), keys::retry_due(n), keys::retry_claimed(n),
          keys::retry_endpoint_tasks(n, t.endpoint_id)};
}

redis::request store::schedule_call(const task& t, clock::time_point due) const {
  return {&schedule_script(), task_keys(t), task_argv(t, due, opts_.task_ttl), {}};
}

redis::request store::reschedule_call(const task& t, clock::time_point due) const {
  return {&reschedule_script(), task_keys(t), task_argv(t, due, opts_.task_ttl), {}};
}

status store::schedule(const task& t, clock::time_point due) {
  auto r = redis::single_reply(redis::run(*redis_, schedule_call(t, due)));
  if (!r) return std::unexpected(r.error());
  return {};
}

result<bool> store::schedule_now(const task& t, clock::time_point now) {
  auto op = schedule_now_op(t, now);
  return redis::run(*redis_, op);
}

result<bool> store::reschedule(const task& t, clock::time_point due) {
  auto r = redis::single_reply(redis::run(*redis_, reschedule_call(t, due)));
  if (!r) return std::unexpected(r.error());
  return r->integer == 1;
}

redis::request store::claim_call(std::size_t shard, clock::time_point now, std::size_t limit,
                                 std::chrono::milliseconds lease) {
  return {&claim_script(),
          {keys::retry_due(shard), keys::retry_claimed(shard)},
          {std::to_string(unix_ms(now)), std::to_string(limit), std::to_string(unix_ms(now + lease))},
          {}};
}

redis::request store::drop_missing_call(std::size_t shard, std::string_view task_id) {
  return {&drop_missing_script(),
          {keys::retry_claimed(shard), keys::retry_task(shard, task_id),
           keys::retry_endpoint_tasks(shard, keys::task_endpoint(task_id))},
          {std::string(task_id)},
          {}};
}

redis::operation<std::vector<task>> store::claim_op(std::size_t shard, clock::time_point now,
                                                    std::size_t limit,
                                                    std::chrono::milliseconds lease) {
  using op = redis::operation<std::vector<task>>;
  // Three round trips at most: the claim script; the records, pipelined (single-key reads, which
  // a cluster client follows through ASK and MOVED); the empty ones' drop_missing, one at a time
  // (an expired record is rare).
  struct state {
    enum class step { claim, read, recheck } at = step::claim;
    std::size_t shard = 0;
    std::vector<std::string> missing;  // claimed ids whose record read empty, rechecked in turn
    std::vector<task> out;
  };
  auto st = std::make_shared<state>();
  st->shard = shard;
  return op::one(claim_call(shard, now, limit, lease), [st](op& o, redis::replies r)
                                                           -> std::optional<result<std::vector<task>>> {
    // A failure after the claim leaves the tasks unread claimed: their lease runs out and they
    // are claimed again, as a crashed instance's are. Those read already are delivered.
    if (!r && st->at == state::step::recheck) return std::move(st->out);
    if (!r) return std::unexpected(r.error());
    switch (st->at) {
      case state::step::claim: {
        auto ids = redis::single_reply(std::move(r));
        if (!ids) return std::unexpected(ids.error());
        if (ids->elements.empty()) return std::move(st->out);
        o.next = {};
        for (const auto& id : ids->elements) {
          o.next.commands.add({"HGETALL", keys::retry_task(st->shard, id.str)});
          st->missing.push_back(id.str);  // read in this order; kept below when found
        }
        st->at = state::step::read;
        return std::nullopt;
      }
      case state::step::read: {
        std::vector<std::string> empty;
        for (std::size_t i = 0; i < r->size() && i < st->missing.size(); ++i) {
          const redis::reply& fields = (*r)[i];
          if (fields.type == redis::reply::kind::error) continue;  // back after its lease
          if (fields.elements.empty()) {
            empty.push_back(std::move(st->missing[i]));
          } else {
            st->out.push_back(task_from_fields(fields.elements));
          }
        }
        st->missing = std::move(empty);
        break;
      }
      case state::step::recheck: {
        // Not rechecked (TRYAGAIN past the client's retries, a slot mid-migration): it stays
        // claimed and is looked at again after its lease.
        if (r->size() == 1 && r->front().type != redis::reply::kind::error &&
            !r->front().elements.empty()) {
          st->out.push_back(task_from_fields(r->front().elements));
        }
        st->missing.pop_back();
        break;
      }
    }
    if (st->missing.empty()) return std::move(st->out);
    o.next = drop_missing_call(st->shard, st->missing.back());
    st->at = state::step::recheck;
    return std::nullopt;
  });
}

std::vector<task> store::tasks_from_reply(const redis::reply& r) {
  std::vector<task> out;
  const auto& e = r.elements;
  for (std::size_t i = 0; i + 1 < e.size(); i += 2) {
    out.push_back(task_from_fields(e[i + 1].elements));
  }
  return out;
}

result<std::vector<task>> store::claim_due(clock::time_point now, std::size_t limit,
                                           std::chrono::milliseconds lease) {
  std::vector<task> out;
  // Every shard in turn, each for what the ones before it left of `limit`.
  for (std::size_t shard = 0; shard < opts_.shards && out.size() < limit; ++shard) {
    auto op = claim_op(shard, now, limit - out.size(), lease);
    auto r = redis::run(*redis_, op);
    if (!r) return std::unexpected(r.error());
    for (auto& t : *r) out.push_back(std::move(t));
  }
  return out;
}

redis::request store::complete_commands(std::string_view id) const {
  const std::string_view endpoint = keys::task_endpoint(id);
  const std::size_t n = shard_of(endpoint);
  redis::request r;
  r.commands.add({"MULTI"})
      .add({"DEL", keys::retry_task(n, id)})
      .add({"ZREM", keys::retry_due(n), id})
      .add({"ZREM", keys::retry_claimed(n), id})
      .add({"SREM", keys::retry_endpoint_tasks(n, endpoint), id})
      .add({"EXEC"});
  return r;
}

status store::complete_from_replies(const std::vector<redis::reply>& r) {
  if (r.empty() || r.back().type != redis::reply::kind::array) {
    return fail(error_kind::transient,
                "redis: complete transaction failed: " + (r.empty() ? "" : r.back().str));
  }
  return {};
}

status store::complete(std::string_view id) {
  auto r = redis::run(*redis_, complete_commands(id));
  if (!r) return std::unexpected(r.error());
  return complete_from_replies(*r);
}

result<std::optional<task>> store::get(std::string_view id) {
  auto r = redis_->command({"HGETALL", keys::retry_task(task_shard(id), id)});
  if (!r) return std::unexpected(r.error());
  if (r->elements.empty()) return std::nullopt;
  return task_from_fields(r->elements);
}

redis::request store::backlog_commands(std::size_t shards) {
  redis::request r;
  for (std::size_t n = 0; n < shards; ++n) {
    r.commands.add({"ZCARD", keys::retry_due(n)}).add({"ZCARD", keys::retry_claimed(n)});
  }
  return r;
}

result<backlog_size> store::backlog_from_replies(const std::vector<redis::reply>& r) {
  if (auto e = redis::first_error(r); !e) return std::unexpected(e.error());
  backlog_size out;
  for (std::size_t i = 0; i + 1 < r.size(); i += 2) {
    out.scheduled += r[i].integer;
    out.claimed += r[i + 1].integer;
  }
  return out;
}

result<backlog_size> store::backlog() {
  auto r = redis::run(*redis_, backlog_commands(opts_.shards));
  if (!r) return std::unexpected(r.error());
  return backlog_from_replies(*r);
}

status store::check_shard_count() {
  const std::string mine = std::to_string(opts_.shards);
  auto r = redis_->pipeline({{"SET", std::string(keys::retry_shard_count), mine, "NX"},
                             {"GET", std::string(keys::retry_shard_count)}});
  if (auto e = redis::status_of(r); !e) return e;
  if ((*r)[1].str != mine) {
    return fail(error_kind::permanent, "Redis holds a retry schedule in " + (*r)[1].str +
                                           " shards, configured: " + mine +
                                           " (run `tresse-dispatcher migrate-keys --retry-shards " +
                                           mine + "`)");
  }
  return {};
}

result<std::size_t> store::recorded_shard_count(redis::client& redis) {
  auto r = redis.command({"GET", keys::retry_shard_count});
  if (!r) return std::unexpected(r.error());
  if (r->is_nil()) return keys::default_retry_shards;
  const auto n = std::strtoull(r->str.c_str(), nullptr, 10);
  if (n < 1 || n > keys::max_retry_shards) {
    return fail(error_kind::permanent, "redis: bad " + std::string(keys::retry_shard_count));
  }
  return static_cast<std::size_t>(n);
}

store::log_request store::log_attempt_commands(const attempt_record& a,
                                              std::string_view event_body) const {
  return log_attempts_commands({{&a, event_body}});
}

store::log_request store::log_attempts_commands(const std::vector<logged>& batch) const {
  // Each list's records in one LPUSH, in batch order: the newest ends up first, as pushing them
  // one by one would leave them. Lists are few per batch (one per endpoint, one per event).
  struct list {
    std::string key;
    std::vector<std::size_t> records;  // indexes into `records` below
    std::string_view body;             // event lists: the body to keep, if any
    bool expire = false;               // event lists: an entry sets its TTL
  };
  std::vector<std::string> records;
  records.reserve(batch.size());
  std::vector<list> by_endpoint, by_event;
  auto list_for = [](std::vector<list>& lists, std::string key) -> list& {
    for (auto& l : lists) {
      if (l.key == key) return l;
    }
    return lists.emplace_back(list{std::move(key), {}, {}});
  };
  for (const auto& [a, body, sets_ttl] : batch) {
    records.push_back(encode(*a, opts_.snippet_limit));
    list_for(by_endpoint, keys::endpoint_attempts(a->endpoint_id)).records.push_back(records.size() - 1);
    list& ev = list_for(by_event, keys::event_attempts(a->event_id));
    ev.records.push_back(records.size() - 1);
    if (!body.empty()) ev.body = body;
    ev.expire = ev.expire || sets_ttl;
  }
  const std::string ttl = std::to_string(opts_.event_attempts_ttl.count());
  const std::string endpoint_keep = std::to_string(opts_.attempts_per_endpoint - 1);
  log_request out;
  redis::request& r = out.commands;
  std::vector<std::string_view> push;
  auto push_all = [&](const list& l) {
    push.assign({"LPUSH", l.key});
    for (std::size_t i : l.records) push.push_back(records[i]);
    r.commands.add(push);
  };
  for (const auto& l : by_endpoint) {
    push_all(l);
    r.commands.add({"LTRIM", l.key, "0", endpoint_keep});
  }
  out.event_lists.reserve(by_event.size());
  for (auto& l : by_event) {
    out.event_lists.emplace_back(r.commands.size(), l.key);
    push_all(l);
    if (l.expire) r.commands.add({"PEXPIRE", l.key, ttl});
    if (!l.body.empty()) {
      const std::string body_key = keys::event_body(batch[l.records.front()].attempt->event_id);
      r.commands.add({"SET", body_key, l.body, "PX", ttl, "NX"});
    }
  }
  return out;
}

redis::request store::trim_commands(const log_request& written,
                                    const std::vector<redis::reply>& replies) const {
  const std::string event_keep = std::to_string(opts_.attempts_per_event - 1);
  redis::request r;
  for (const auto& [index, key] : written.event_lists) {
    if (index < replies.size() && replies[index].type == redis::reply::kind::integer &&
        static_cast<std::size_t>(replies[index].integer) > opts_.attempts_per_event) {
      r.commands.add({"LTRIM", key, "0", event_keep});
    }
  }
  return r;
}

status store::log_attempt(const attempt_record& a, std::string_view event_body) {
  const auto written = log_attempt_commands(a, event_body);
  auto replies = redis::run(*redis_, written.commands);
  if (auto e = redis::status_of(replies); !e) return e;
  const auto trims = trim_commands(written, *replies);
  if (trims.commands.empty()) return {};
  return redis_->pipeline_ok(trims.commands);
}

result<std::optional<std::string>> store::event_body(std::string_view event_id) {
  auto op = event_body_op(event_id);
  return redis::run(*redis_, op);
}

result<std::vector<attempt_record>> store::list_attempts(std::string_view endpoint_id,
                                                         std::size_t limit) {
  auto op = list_attempts_op(endpoint_id, limit);
  return redis::run(*redis_, op);
}

result<std::vector<attempt_record>> store::attempts_for_event(std::string_view endpoint_id,
                                                              std::string_view event_id) {
  auto op = attempts_for_event_op(endpoint_id, event_id);
  return redis::run(*redis_, op);
}

namespace {

// The attempt records an LRANGE returns (only those to `only_endpoint` unless it is empty).
redis::operation<std::vector<attempt_record>> attempts_op(std::vector<std::string> lrange,
                                                          std::string only_endpoint) {
  using op = redis::operation<std::vector<attempt_record>>;
  return op::one(redis::single_command(std::move(lrange)),
                 [only = std::move(only_endpoint)](
                     op&, redis::replies r) -> std::optional<result<std::vector<attempt_record>>> {
                   auto got = redis::single_reply(std::move(r));
                   if (!got) return std::unexpected(got.error());
                   return decode_attempts(*got, only);
                 });
}

}  // namespace

redis::operation<bool> store::schedule_now_op(const task& t, clock::time_point now) const {
  using op = redis::operation<bool>;
  return op::one(
      {&schedule_now_script(), task_keys(t), task_argv(t, now, opts_.task_ttl), {}},
      [](op&, redis::replies r) -> std::optional<result<bool>> {
        auto got = redis::single_reply(std::move(r));
        if (!got) return std::unexpected(got.error());
        return got->integer == 1;
      });
}

redis::operation<std::optional<std::string>> store::event_body_op(std::string_view event_id) {
  using op = redis::operation<std::optional<std::string>>;
  return op::one(redis::single_command({"GET", keys::event_body(event_id)}),
                 [](op&, redis::replies r) -> std::optional<result<std::optional<std::string>>> {
                   auto got = redis::single_reply(std::move(r));
                   if (!got) return std::unexpected(got.error());
                   if (got->is_nil()) return result<std::optional<std::string>>(std::nullopt);
                   return result<std::optional<std::string>>(std::move(got->str));
                 });
}

redis::operation<std::vector<attempt_record>> store::list_attempts_op(std::string_view endpoint_id,
                                                                      std::size_t limit) {
  if (limit == 0) {
    return redis::operation<std::vector<attempt_record>>::done(std::vector<attempt_record>{});
  }
  return attempts_op(
      {"LRANGE", keys::endpoint_attempts(endpoint_id), "0", std::to_string(limit - 1)}, "");
}

redis::operation<std::vector<attempt_record>> store::attempts_for_event_op(
    std::string_view endpoint_id, std::string_view event_id) {
  return attempts_op({"LRANGE", keys::event_attempts(event_id), "0", "-1"},
                     std::string(endpoint_id));
}

json to_json(const attempt_record& a) {
  return {
      {"id", a.id},
      {"object", "delivery_attempt"},
      {"event_id", a.event_id},
      {"event_type", a.event_type},
      {"endpoint_id", a.endpoint_id},
      {"attempt", a.attempt},
      {"at", tresse::events::format_rfc3339(a.at)},
      {"status", a.status == 0 ? json(nullptr) : json(a.status)},
      {"succeeded", a.succeeded},
      {"error", a.error.empty() ? json(nullptr) : json(a.error)},
      {"latency_ms", a.latency.count()},
      {"response", a.response_snippet},
  };
}

}  // namespace tresse::dispatcher::retry
