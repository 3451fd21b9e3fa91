// Every Redis key the dispatcher uses, in one place, so the layout can be read (and changed)
// at a glance. All keys start with "tresse:".
//
// Cluster-ready layout (issue 14). In the table, `<x>` is a variable part; a literal `{...}` is
// a hash tag (Redis Cluster hashes only what is between the first '{' and the next '}', so keys
// with the same tag are in one slot, redis/cluster_slots.hpp). The rule: every key that one Lua
// script or one MULTI touches shares one tag. Keys touched only by single-key commands or plain
// pipelines may be anywhere (a cluster client splits a pipeline by slot), so most keys carry no
// tag. tests/dispatcher/redis/keys_test.cpp checks each script's group of keys for one slot.
//
// The retry schedule is split into S shards (retry.shards, default 16, 1..1024), shard n under
// the tag {rs<n>}, so no slot (no cluster node) holds the whole queue. A task's shard is a stable
// function of its endpoint id (CRC16 mod S, retry_shard): every task of one endpoint is in one
// shard, and that endpoint's ordered queues are under the same tag, because the ordered scripts
// move tasks between an endpoint's queues and the schedule atomically. Instances claim from the
// shards in turn, each starting at a random one. S is recorded in tresse:retry:shards; an
// instance configured with another S refuses to start, and `tresse-dispatcher migrate-keys`
// moves the keys to another S (and from the layout before shards: keys::legacy).
//
// Nothing is read by SCAN or KEYS: the schedule's sets, the endpoint task index and the
// ordered resource index are how tasks and queues are found.
//
//   tresse:endpoints:version                 string  counter, INCR on every endpoint change
//                                                    (starts at a random value)
//   tresse:endpoints:all                     zset    every endpoint id (score 0, lex order)
//   tresse:business:{<business>}:endpoints   zset    a business's endpoint ids (score 0, lex)
//   tresse:endpoint:{<id>}                   string  the endpoint as JSON (secrets encrypted)
//   tresse:endpoint:{<id>}:stats             hash    failure_count, consecutive_failures,
//                                                    dead_lettered, failing_since (unix ms of
//                                                    the failure streak's start),
//                                                    consecutive_dead_lettered (hot counters,
//                                                    kept out of the JSON: no version bump)
//   tresse:breakers:open                     zset    endpoint id -> circuit open until (unix
//                                                    ms); present while open or half-open
//   tresse:breaker:{<id>}:open_until         zset    "until" -> the same, the endpoint's own
//                                                    copy for the probe lease script
//   tresse:breaker:{<id>}:probe              string  the instance probing a half-open circuit
//                                                    (SET NX, TTL = attempt timeout + 5 s)
//   tresse:endpoint:<id>:health              hash    instance id -> that instance's health
//                                                    report (JSON, health/report.hpp); TTL 10 s
//   tresse:retry:shards                      string  S, the retry schedule's shard count
//   tresse:{rs<n>}:due                       zset    shard n: task id -> due time (unix ms)
//   tresse:{rs<n>}:claimed                   zset    shard n: task id -> lease expiry (unix ms)
//   tresse:{rs<n>}:task:<task>               hash    one delivery task, with a TTL (task id:
//                                                    "<event id>:<endpoint id>")
//   tresse:{rs<n>}:endpoint:<id>             set     the endpoint's task ids in due or claimed
//                                                    (`endpoints health` counts it; TTL = task
//                                                    TTL from its last addition)
//   tresse:{rs<n>}:ordered:<id>:r:<resource> hash    an ordered endpoint's sequence for one
//                                                    resource: last (number given last), head,
//                                                    head_seq (the event being delivered),
//                                                    holder (the instance a release leased the
//                                                    head to); TTL 30 d from its last event
//   tresse:{rs<n>}:ordered_holders           zset    "<endpoint id>/<holder>" -> until when that
//                                                    instance holds the heads it was released
//                                                    (unix ms; ".5": a walk of a lapsed one)
//   tresse:{rs<n>}:ordered:<id>:w:<resource> list    task ids waiting behind the head, in order
//                                                    (their records: tresse:{rs<n>}:task:…, with
//                                                    the list's TTL until released, and the body)
//   tresse:{rs<n>}:ordered:<id>:b:<event>    string  the body of a waiting (or released, not yet
//                                                    settled) event whose record was written
//                                                    before bodies went into the records
//                                                    (2026-12-02); read, deleted and purged with
//                                                    it, never written now
//   tresse:{rs<n>}:ordered:<id>:e:<event>    string  the event's sequence number (idempotent
//                                                    intake; TTL 30 d)
//   tresse:{rs<n>}:ordered:<id>:backlog      hash    waiting: events waiting in its queues
//   tresse:{rs<n>}:ordered:<id>:oldest       zset    resource -> when its oldest waiting event
//                                                    was queued (unix ms)
//   tresse:{rs<n>}:ordered:<id>:resources    set     every resource numbered in the last 30 d,
//                                                    so that deleting the endpoint finds its
//                                                    queues without SCAN
//   (n = the endpoint's retry shard.)
//   tresse:attempts:endpoint:<id>            list    newest-first attempt records (capped)
//   tresse:attempts:event:<event>            list    every attempt of one event (capped, TTL)
//   tresse:event:<event>                     string  the event's bytes, for manual retries (TTL)
//   tresse:apikey:{<sha256>}                 hash    a business API key (id, business_id,
//                                                    mode, last4, created_at, revoked)
//   tresse:apikey_id:<id>                    string  the key's sha256, by key id
//   tresse:apikeys                           zset    every key id (score 0, lex order)
//   tresse:portal_session:{<sha256>}         hash    a portal session (TTL: its expiry)
//   tresse:portal_sessions_of:<key id>       set     the sessions a key made
//   tresse:ratelimit:key:{<sha256>}:<minute> string  a key's (or portal session's) requests in
//                                                    that minute (TTL 2 min)
//   tresse:ratelimit:ip:<address>:<minute>   string  the requests of a client address that
//                                                    presented no valid key (TTL 2 min)
//   tresse:idempotency:<key id>:<sha256>     hash    a POST's first response (TTL 24 h)
//   tresse:replay:<id>                       hash    a replay's progress (TTL 7 d)
//   tresse:stats:{<we_…>}:<minute>           hash    one endpoint's attempts in one unix
//                                                    minute: d, f, h<i> (stats/accumulator.hpp);
//                                                    TTL 48 h; tagged so that a cluster keeps an
//                                                    endpoint's minutes on one node
//   tresse:stats:{all}:<minute>              hash    every endpoint's d and f in that minute
//   tresse:dead_letters:<hour>               string  dead letters in that unix hour (TTL 48 h)
//
// Scripts and transactions, and their slots:
//   one slot   retry schedule/reschedule/schedule_now/claim scripts and complete's MULTI
//              ({rs<n>}); the ordered place/release/purge/body scripts ({rs<n>}); the breaker
//              probe lease ({<id>}); the idempotency scripts (one key); a portal session's two
//              MULTIs (one key each). An API key's creation is a plain ordered pipeline.
//              The registry: compare-and-set (the record), record_failure / record_dead_letter
//              / record_success ({<id>}: record and stats); create, remove and the page are
//              plain commands in ordered round trips (registry/store.cpp: record, indexes,
//              version; remove: indexes, record, version), and the caches reload in full every
//              60 s (registry/cache.hpp, api/page_cache.hpp), so a writer that dies between
//              two steps delays a change, never hides it. The API gate's admit script
//              ({<sha256>}: the key's or session's record and the key's counter); a request
//              without a valid key is counted per client address by plain commands after it.
//   single     migrate-keys' scripts (ops/migrate_keys.cpp) move keys between slots: run on
//   node only  the single Redis the old layout lives on.
// A script also touches only the keys in its KEYS: a slot migrates key by key, and Redis runs a
// script where its declared keys are, failing it (after its first writes, which stay) when it
// reaches a key of the slot already moved. So the claim reads task records apart, and the
// ordered release is told which waiting events it will read (retry/store.hpp,
// delivery/ordered_queue.hpp). The one exception left, the ordered purge script (an endpoint's
// deletion), finds its keys from an index; remove() calls it until it reports nothing left.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "redis/cluster_slots.hpp"

namespace tresse::dispatcher::redis::keys {

// The parts, concatenated with one allocation (keys are built on every delivery: building them
// from intermediate strings cost an ordered release ~7 k instructions).
template <class... Parts>
std::string join(const Parts&... parts) {
  const std::string_view views[] = {std::string_view(parts)...};
  std::size_t size = 0;
  for (std::string_view v : views) size += v.size();
  std::string out;
  out.reserve(size);
  for (std::string_view v : views) out.append(v);
  return out;
}

// A number as text, without an allocation.
class decimal {
 public:
  template <class Integer>
  explicit decimal(Integer n)
      : size_(static_cast<std::size_t>(std::to_chars(text_, text_ + sizeof text_, n).ptr - text_)) {}
  operator std::string_view() const { return {text_, size_}; }

 private:
  char text_[21];  // a 64-bit integer with its sign
  std::size_t size_;
};

inline constexpr std::string_view endpoints_version = "tresse:endpoints:version";
inline constexpr std::string_view endpoints_all = "tresse:endpoints:all";
// A business's index under its own tag, an endpoint's record and counters under the endpoint's
// (the failure scripts read the record and write the counters: one slot). The version and the
// global index are written by plain commands only (registry/store.cpp orders them).
inline std::string business_endpoints(std::string_view business) {
  return join("tresse:business:{", business, "}:endpoints");
}
inline std::string endpoint(std::string_view id) { return join("tresse:endpoint:{", id, "}"); }
inline std::string endpoint_stats(std::string_view id) {
  return join("tresse:endpoint:{", id, "}:stats");
}

inline constexpr std::string_view breakers_open = "tresse:breakers:open";
// The endpoint's open_until (a one-member zset, "until", so that ZADD GT keeps the later of
// two instances' values) beside its probe lease: the lease script reads both, in one slot.
inline std::string breaker_open_until(std::string_view id) {
  return join("tresse:breaker:{", id, "}:open_until");
}
inline std::string breaker_probe(std::string_view id) { return join("tresse:breaker:{", id, "}:probe"); }

inline std::string endpoint_health(std::string_view id) {
  return join("tresse:endpoint:", id, ":health");
}

// The retry schedule, in `shards` shards (config retry.shards), each under its own hash tag
// {rs<n>}. A task's shard is its endpoint's: every task of one endpoint, and that endpoint's
// ordered queues, share one tag, so the ordered scripts that move tasks between the two stay in
// one slot.
inline constexpr std::size_t default_retry_shards = 16;
inline constexpr std::size_t max_retry_shards = 1024;
// The shard count the dispatchers run with, so that the CLI reads the same layout and an
// instance configured with another count refuses to start (migrate-keys re-shards).
inline constexpr std::string_view retry_shard_count = "tresse:retry:shards";
inline std::size_t retry_shard(std::string_view endpoint_id, std::size_t shards) {
  return shards <= 1 ? 0 : crc16(endpoint_id) % shards;
}
// A task id is "<event id>:<endpoint id>"; endpoint ids hold no ':'.
inline std::string_view task_endpoint(std::string_view task_id) {
  const auto colon = task_id.rfind(':');
  return colon == std::string_view::npos ? task_id : task_id.substr(colon + 1);
}
inline std::size_t task_shard(std::string_view task_id, std::size_t shards) {
  return retry_shard(task_endpoint(task_id), shards);
}
// Keys under retry shard `shard`'s tag: "tresse:{rs<n>}:" and then `rest`.
template <class... Parts>
std::string in_retry_shard(std::size_t shard, const Parts&... rest) {
  return join("tresse:{rs", decimal(shard), "}:", rest...);
}
inline std::string retry_tag(std::size_t shard) { return in_retry_shard(shard); }
inline std::string retry_due(std::size_t shard) { return in_retry_shard(shard, "due"); }
inline std::string retry_claimed(std::size_t shard) { return in_retry_shard(shard, "claimed"); }
inline std::string retry_task_prefix(std::size_t shard) { return in_retry_shard(shard, "task:"); }
inline std::string retry_task(std::size_t shard, std::string_view task_id) {
  return in_retry_shard(shard, "task:", task_id);
}
// The ids of one endpoint's tasks in its shard's due or claimed set: counted without a scan.
inline std::string retry_endpoint_tasks(std::size_t shard, std::string_view endpoint_id) {
  return in_retry_shard(shard, "endpoint:", endpoint_id);
}

inline std::string endpoint_attempts(std::string_view id) {
  return join("tresse:attempts:endpoint:", id);
}
inline std::string event_attempts(std::string_view event_id) {
  return join("tresse:attempts:event:", event_id);
}
inline std::string event_body(std::string_view event_id) { return join("tresse:event:", event_id); }

// An ordered endpoint's keys (delivery/ordered_queue.hpp), under its retry shard's tag.
// "tresse:{rs<n>}:ordered:<endpoint id>:" and then `rest`.
template <class... Parts>
std::string in_ordered(std::size_t shard, std::string_view endpoint_id, const Parts&... rest) {
  return in_retry_shard(shard, "ordered:", endpoint_id, ":", rest...);
}
inline std::string ordered_tag(std::size_t shard, std::string_view endpoint_id) {
  return in_ordered(shard, endpoint_id);
}
inline std::string ordered_sequence(std::size_t shard, std::string_view endpoint_id,
                                    std::string_view resource) {
  return in_ordered(shard, endpoint_id, "r:", resource);
}
inline std::string ordered_waiting(std::size_t shard, std::string_view endpoint_id,
                                   std::string_view resource) {
  return in_ordered(shard, endpoint_id, "w:", resource);
}
inline std::string ordered_event(std::size_t shard, std::string_view endpoint_id,
                                 std::string_view event_id) {
  return in_ordered(shard, endpoint_id, "e:", event_id);
}
inline std::string ordered_body(std::size_t shard, std::string_view endpoint_id,
                                std::string_view event_id) {
  return in_ordered(shard, endpoint_id, "b:", event_id);
}
inline std::string ordered_backlog(std::size_t shard, std::string_view endpoint_id) {
  return in_ordered(shard, endpoint_id, "backlog");
}
inline std::string ordered_oldest(std::size_t shard, std::string_view endpoint_id) {
  return in_ordered(shard, endpoint_id, "oldest");
}
inline std::string ordered_resources(std::size_t shard, std::string_view endpoint_id) {
  return in_ordered(shard, endpoint_id, "resources");
}
// Shard n's ordered-head leases: one member per endpoint and instance, not one per head.
inline std::string ordered_holders(std::size_t shard) {
  return in_retry_shard(shard, "ordered_holders");
}

// A key's record (or a portal session's) and the key's rate counter share the digest's tag: the
// API gate's admit script reads the one and counts in the other (api/gate.cpp).
inline std::string api_key(std::string_view sha256) { return join("tresse:apikey:{", sha256, "}"); }
inline std::string api_key_id(std::string_view id) { return join("tresse:apikey_id:", id); }
inline constexpr std::string_view api_keys_all = "tresse:apikeys";
// A portal session by its token's SHA-256, and the sessions a key made (ended with the key).
inline std::string portal_session(std::string_view sha256) {
  return join("tresse:portal_session:{", sha256, "}");
}
inline std::string portal_sessions_of(std::string_view key_id) {
  return join("tresse:portal_sessions_of:", key_id);
}
inline std::string rate_limit(std::string_view bucket, std::int64_t minute) {
  return join("tresse:ratelimit:", bucket, ":", decimal(minute));
}
// The requests of the key (or portal session) whose token's SHA-256 this is, in that minute.
inline std::string key_rate_limit(std::string_view sha256, std::int64_t minute) {
  return join("tresse:ratelimit:key:{", sha256, "}:", decimal(minute));
}
inline std::string idempotency(std::string_view key_id, std::string_view sha256) {
  return join("tresse:idempotency:", key_id, ":", sha256);
}
inline std::string replay(std::string_view id) { return join("tresse:replay:", id); }
inline std::string endpoint_minute_stats(std::string_view id, std::int64_t minute) {
  return join("tresse:stats:{", id, "}:", decimal(minute));
}
inline std::string all_minute_stats(std::int64_t minute) {
  return join("tresse:stats:{all}:", decimal(minute));
}
inline std::string dead_letters_hour(std::int64_t hour) {
  return join("tresse:dead_letters:", decimal(hour));
}

// The layout before the retry schedule was sharded (one due set, one claimed set, ordered queues
// under {<endpoint id>}): only `tresse-dispatcher migrate-keys` reads these, to move them.
namespace legacy {
inline constexpr std::string_view retry_due = "tresse:retry:due";
inline constexpr std::string_view retry_claimed = "tresse:retry:claimed";
inline std::string retry_task(std::string_view task_id) { return join("tresse:retry:task:", task_id); }
inline std::string ordered_tag(std::string_view endpoint_id) {
  return join("tresse:ordered:{", endpoint_id, "}:");
}
// The API keys' and portal sessions' records before they were tagged (issue 14).
inline std::string api_key(std::string_view sha256) { return join("tresse:apikey:", sha256); }
inline std::string portal_session(std::string_view sha256) {
  return join("tresse:portal_session:", sha256);
}
// The registry's keys before they were tagged (issue 14).
inline std::string business_endpoints(std::string_view business) {
  return join("tresse:business:", business, ":endpoints");
}
inline std::string endpoint(std::string_view id) { return join("tresse:endpoint:", id); }
inline std::string endpoint_stats(std::string_view id) {
  return join("tresse:endpoint:", id, ":stats");
}
}  // namespace legacy

}  // namespace tresse::dispatcher::redis::keys
