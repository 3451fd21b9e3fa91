// What every part of the delivery engine shares: its options and dependencies, the metrics it
// keeps, what one event's deliveries have in common, and the small pool for rare, slow work.
//
// Threads (engine.hpp): intake runs on the Kafka consumer's thread; every delivery runs on the
// shard (io thread) that owns its endpoint; `blocking` runs the few calls that block and are
// rare (dead letters to Kafka, disabling an endpoint, ops events, breaker and health sharing).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "admin/attempt_metrics.hpp"
#include "admin/metrics.hpp"
#include "delivery/shard_map.hpp"
#include "health/breaker.hpp"
#include "health/breaker_store.hpp"
#include "health/report.hpp"
#include "health/throttle.hpp"
#include "http/client.hpp"
#include "kafka/dead_letter.hpp"
#include "kafka/ops_events.hpp"
#include "redis/client.hpp"
#include "registry/cache.hpp"
#include "registry/store.hpp"
#include "retry/schedule.hpp"
#include "retry/store.hpp"
#include "tresse/common/event.hpp"

namespace tresse::dispatcher {

using clock_time = std::chrono::system_clock::time_point;

struct engine_options {
  http::client_options http;
  // io threads, each running the deliveries of the endpoints it owns (shard_map); 0: one per core.
  std::size_t io_threads = 0;
  std::size_t max_in_flight = 1000;        // attempts in flight, all endpoints together
  std::size_t endpoint_concurrency = 10;   // attempts in flight per endpoint
  std::size_t endpoint_queue_limit = 100;  // deliveries waiting per endpoint and kind, at most
  // How long a delivery waits for its endpoint's slot before it is deferred to the schedule.
  std::chrono::milliseconds endpoint_queue_timeout = std::chrono::seconds(5);
  // A full queue defers only once the endpoint is stalled this long (lane_options).
  std::chrono::milliseconds endpoint_stall_after = std::chrono::seconds(1);
  std::size_t max_event_bytes = events::default_max_bytes;
  std::chrono::milliseconds retry_lease = std::chrono::seconds(60);
  std::chrono::milliseconds retry_poll_interval = std::chrono::milliseconds(200);
  std::size_t retry_batch = 100;  // due retries claimed per poll, at most
  std::size_t blocking_threads = 2;
  health::breaker_options breaker;
  health::throttle_options throttle;
  // An endpoint failing every attempt for this long is disabled (0: never).
  std::chrono::milliseconds auto_disable_after = std::chrono::hours(24 * 5);
  // This many deliveries in a row dead-lettered: webhook_endpoint.failing is published (0: never).
  std::int64_t warn_after_dead_letters = 5;
  std::string instance_id;  // who holds a probe lease; "" = hostname:pid
  // The delivery path's own Redis connections (one per shard, non-blocking, pipelined).
  redis::options redis;
};

struct engine_deps {
  registry::cache& endpoints;
  registry::store& registry;
  retry::store& retries;
  const retry::schedule& schedule;
  kafka::dead_letter_producer& dead_letters;
  metrics& stats;
  health::breaker_store* breakers = nullptr;  // none: each instance's breakers stay its own
  kafka::ops_publisher* ops = nullptr;        // none: operational events are only logged
  health::report_store* reports = nullptr;    // none: health only in this process's /metrics
};

// Registered once; incremented from any shard (the metrics are atomic).
struct delivery_counters {
  counter* delivered;
  counter* scheduled;
  counter* deferred;
  counter* dead_lettered;
  counter* disabled;
  counter* poison;
  counter* unmatched;
  counter* local_errors;
  counter* proxy_failures;
  histogram* latency;
  gauge* in_flight;
  gauge* deferring;           // deferrals being copied and stored (settle.hpp)
  gauge* deferrals_waiting;   // deferrals waiting for one of those slots
  gauge* ordered_held;        // ordered events held behind an in-flight head (ordered_chains.hpp)
};

// What every attempt of one event needs; shared by the fan-out's deliveries.
struct event_meta {
  std::string id;
  std::string type;
  std::string business_id;
  std::shared_ptr<const std::string> body;  // the exact bytes, serialized once
  kafka::dead_letter::source_ref source;     // where it came from, for dead letters
  // data.id, only when a recipient orders per resource (delivery/ordered_queue.hpp); else "".
  std::string resource;
};

// Counts a record's deliveries down to its hand-off. The one piece of state that deliveries on
// different shards share, hence atomic.
struct fanout {
  std::atomic<std::size_t> remaining{0};
  // The event's bytes and its attempt list's TTL go into the attempt log once per record, with
  // the first delivery whose attempt is logged (a SET NX of the same body, or a PEXPIRE of the
  // same list, per endpoint did nothing but cost Redis).
  std::atomic<bool> body_logged{false};
  std::function<void()> done;
  void one_done() {
    if (remaining.fetch_sub(1) == 1 && done) std::exchange(done, nullptr)();
  }
};

// One (event, endpoint) delivery on its way to a shard.
struct delivery {
  std::shared_ptr<const event_meta> meta;
  std::shared_ptr<const registry::endpoint> endpoint;
  std::shared_ptr<fanout> fan;
  std::uint64_t sequence = 0;  // tresse-sequence of an ordered delivery; 0: unordered
};

struct context {
  context(engine_deps d, engine_options o);

  engine_deps deps;
  engine_options options;
  delivery_counters counters;
  attempt_metrics attempts;  // tresse_attempts_total{class}: what each attempt came to
  std::string instance_id;
  std::shared_ptr<boost::asio::ssl::context> tls;  // every shard's HTTP client shares it
  http::proxy_health proxy_health;  // what deliveries last saw of delivery.proxy (/readyz)
  boost::asio::thread_pool blocking;
  shard_map owners;  // which shard each endpoint's state lives on
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> active{0};  // coroutines that may still hand something off
};

// Keeps `active` up while a coroutine may still hand something off, for stop()'s drain.
class active_guard {
 public:
  explicit active_guard(std::atomic<std::size_t>& n) : n_(n) { n_.fetch_add(1); }
  ~active_guard() { n_.fetch_sub(1); }
  active_guard(const active_guard&) = delete;
  active_guard& operator=(const active_guard&) = delete;

 private:
  std::atomic<std::size_t>& n_;
};

// Runs `f` on the blocking pool and resumes on the caller's executor. `f` must outlive the
// co_await: pass a named local (GCC 12 destroys lambda temporaries inside a co_await
// expression twice).
template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> offload(context& c, F& f) {
  using R = std::invoke_result_t<F&>;
  // Only a reference is captured: nothing with a destructor lives in the co_await expression.
  auto run = [&f]() -> boost::asio::awaitable<R> { co_return f(); };
  co_return co_await boost::asio::co_spawn(c.blocking, run, boost::asio::use_awaitable);
}

// Runs `f` on the blocking pool until it succeeds (backing off from 100 ms to 5 s); false if
// stopping first. For the rare hand-offs that block (dead letters, disabling an endpoint).
boost::asio::awaitable<bool> durably(context& c, const char* what, std::function<status()>& f);

inline boost::asio::awaitable<void> sleep_for(std::chrono::steady_clock::duration d) {
  boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, d);
  co_await t.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
}

}  // namespace tresse::dispatcher
