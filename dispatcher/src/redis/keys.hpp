// Every Redis key the dispatcher uses, in one place, so the layout can be read (and changed)
// at a glance. All keys start with "tresse:".
//
//   tresse:endpoints:version                 string  counter, INCR on every endpoint change
//                                                    (starts at a random value)
//   tresse:endpoints:all                     zset    every endpoint id (score 0, lex order)
//   tresse:business:{business}:endpoints     zset    a business's endpoint ids (score 0, lex)
//   tresse:endpoint:{id}                     string  the endpoint as JSON (secrets encrypted)
//   tresse:endpoint:{id}:stats               hash    failure_count, consecutive_failures,
//                                                    dead_lettered, failing_since (unix ms of
//                                                    the failure streak's start),
//                                                    consecutive_dead_lettered (hot counters,
//                                                    kept out of the JSON: no version bump)
//   tresse:breakers:open                     zset    endpoint id -> circuit open until (unix
//                                                    ms); present while open or half-open
//   tresse:endpoint:{id}:probe               string  the instance probing a half-open circuit
//                                                    (SET NX, TTL = attempt timeout + 5 s)
//   tresse:endpoint:{id}:health              hash    instance id -> that instance's health
//                                                    report (JSON, health/report.hpp); TTL 10 s
//   tresse:retry:due                         zset    task id -> due time (unix ms)
//   tresse:retry:claimed                     zset    task id -> lease expiry (unix ms)
//   tresse:retry:task:{task}                 hash    one delivery task, with a TTL
//   tresse:attempts:endpoint:{id}            list    newest-first attempt records (capped)
//   tresse:attempts:event:{event}            list    every attempt of one event (capped, TTL)
//   tresse:event:{event}                     string  the event's bytes, for manual retries (TTL)
//   tresse:ordered:{we_…}:r:{resource}       hash    an ordered endpoint's sequence for one
//                                                    resource: last (number given last), head,
//                                                    head_seq (the event being delivered);
//                                                    TTL 30 d from its last event
//   tresse:ordered:{we_…}:w:{resource}       list    task ids waiting behind the head, in order
//                                                    (their records: tresse:retry:task:…, with
//                                                    the list's TTL until released)
//   tresse:ordered:{we_…}:e:{event}          string  the event's sequence number (idempotent
//                                                    intake; TTL 30 d)
//   tresse:ordered:{we_…}:backlog            hash    waiting: events waiting in its queues
//   tresse:ordered:{we_…}:oldest             zset    resource -> when its oldest waiting event
//                                                    was queued (unix ms)
//   tresse:ordered:{we_…}:resources          set     every resource numbered in the last 30 d,
//                                                    so that deleting the endpoint finds its
//                                                    queues without SCAN
//   ({we_…} is a hash tag: every key of one endpoint's ordered scripts is in one cluster slot.)
//   tresse:apikey:{sha256}                   hash    a business API key (id, business_id,
//                                                    mode, last4, created_at, revoked)
//   tresse:apikey_id:{id}                    string  the key's sha256, by key id
//   tresse:apikeys                           zset    every key id (score 0, lex order)
//   tresse:ratelimit:{bucket}:{minute}       string  requests in that minute (TTL 2 min)
//   tresse:idempotency:{key id}:{sha256}     hash    a POST's first response (TTL 24 h)
//   tresse:replay:{id}                       hash    a replay's progress (TTL 7 d)
//   tresse:stats:{we_…}:{minute}             hash    one endpoint's attempts in one unix
//                                                    minute: d, f, h<i> (stats/accumulator.hpp);
//                                                    TTL 48 h. The braces are literal: a hash
//                                                    tag, so a Redis Cluster keeps an
//                                                    endpoint's minutes on one node
//   tresse:stats:{all}:{minute}              hash    every endpoint's d and f in that minute
//   tresse:dead_letters:{hour}               string  dead letters in that unix hour (TTL 48 h)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tresse::dispatcher::redis::keys {

inline std::string join(std::string_view a, std::string_view b, std::string_view c = {}) {
  std::string out;
  out.reserve(a.size() + b.size() + c.size());
  out.append(a).append(b).append(c);
  return out;
}

inline constexpr std::string_view endpoints_version = "tresse:endpoints:version";
inline constexpr std::string_view endpoints_all = "tresse:endpoints:all";
inline std::string business_endpoints(std::string_view business) {
  return join("tresse:business:", business, ":endpoints");
}
inline std::string endpoint(std::string_view id) { return join("tresse:endpoint:", id); }
inline std::string endpoint_stats(std::string_view id) {
  return join("tresse:endpoint:", id, ":stats");
}

inline constexpr std::string_view breakers_open = "tresse:breakers:open";
inline std::string breaker_probe(std::string_view id) {
  return join("tresse:endpoint:", id, ":probe");
}

inline std::string endpoint_health(std::string_view id) {
  return join("tresse:endpoint:", id, ":health");
}

inline constexpr std::string_view retry_due = "tresse:retry:due";
inline constexpr std::string_view retry_claimed = "tresse:retry:claimed";
inline constexpr std::string_view retry_task_prefix = "tresse:retry:task:";
inline std::string retry_task(std::string_view task_id) { return join(retry_task_prefix, task_id); }

inline std::string endpoint_attempts(std::string_view id) {
  return join("tresse:attempts:endpoint:", id);
}
inline std::string event_attempts(std::string_view event_id) {
  return join("tresse:attempts:event:", event_id);
}
inline std::string event_body(std::string_view event_id) { return join("tresse:event:", event_id); }

// An ordered endpoint's keys (delivery/ordered_queue.hpp), under its {id} hash tag.
inline std::string ordered_tag(std::string_view endpoint_id) {
  return join("tresse:ordered:{", endpoint_id, "}:");
}
inline std::string ordered_sequence(std::string_view endpoint_id, std::string_view resource) {
  return join(ordered_tag(endpoint_id), "r:", resource);
}
inline std::string ordered_waiting(std::string_view endpoint_id, std::string_view resource) {
  return join(ordered_tag(endpoint_id), "w:", resource);
}
inline std::string ordered_event(std::string_view endpoint_id, std::string_view event_id) {
  return join(ordered_tag(endpoint_id), "e:", event_id);
}
inline std::string ordered_backlog(std::string_view endpoint_id) {
  return join(ordered_tag(endpoint_id), "backlog");
}
inline std::string ordered_oldest(std::string_view endpoint_id) {
  return join(ordered_tag(endpoint_id), "oldest");
}
inline std::string ordered_resources(std::string_view endpoint_id) {
  return join(ordered_tag(endpoint_id), "resources");
}

inline std::string api_key(std::string_view sha256) { return join("tresse:apikey:", sha256); }
inline std::string api_key_id(std::string_view id) { return join("tresse:apikey_id:", id); }
inline constexpr std::string_view api_keys_all = "tresse:apikeys";
// A portal session by its token's SHA-256, and the sessions a key made (ended with the key).
inline std::string portal_session(std::string_view sha256) {
  return join("tresse:portal_session:", sha256);
}
inline std::string portal_sessions_of(std::string_view key_id) {
  return join("tresse:portal_sessions_of:", key_id);
}
inline std::string rate_limit(std::string_view bucket, std::int64_t minute) {
  return join("tresse:ratelimit:", bucket, ":" + std::to_string(minute));
}
inline std::string idempotency(std::string_view key_id, std::string_view sha256) {
  return join("tresse:idempotency:", key_id, ":" + std::string(sha256));
}
inline std::string replay(std::string_view id) { return join("tresse:replay:", id); }
inline std::string endpoint_minute_stats(std::string_view id, std::int64_t minute) {
  return join("tresse:stats:{", id, "}:" + std::to_string(minute));
}
inline std::string all_minute_stats(std::int64_t minute) {
  return join("tresse:stats:{all}:", std::to_string(minute));
}
inline std::string dead_letters_hour(std::int64_t hour) {
  return join("tresse:dead_letters:", std::to_string(hour));
}

}  // namespace tresse::dispatcher::redis::keys
