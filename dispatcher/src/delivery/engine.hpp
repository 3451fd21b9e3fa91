// The delivery engine: takes each Kafka record, fans the event out to the business's
// matching endpoints, signs and POSTs it, and hands every delivery off to exactly one of
// delivered / the retry schedule in Redis / the dead-letter topic / endpoint disabled.
//
// Delivery semantics (DESIGN.md): `submit`'s `handed_off` callback runs only once every
// delivery the record fans out to is handed off durably; the consumer commits a Kafka offset
// only after that. Work still in flight at stop() never calls it, so Kafka redelivers that
// record to whoever consumes the partition next (at least once; receivers dedupe by
// webhook-id). Retries are claimed from Redis with a lease, so any instance carries on
// another's retries and a crashed instance's claims come back when the lease runs out.
//
// Threads: one io thread runs every delivery coroutine (HTTP client, semaphores, fan-out
// counters are all touched only there); blocking Redis and Kafka calls run on a small pool
// and resume on the io thread.
//
// Isolation: every endpoint has its own lane (delivery/lane.hpp): bounded concurrency, taken
// before a global in-flight permit, so a slow endpoint holds only its own slots; first attempts
// go before retries; and a bounded queue. A delivery that cannot get a slot within
// `endpoint_queue_timeout` (or finds `endpoint_queue_limit` others waiting while the endpoint
// is stalled: every slot busy, none freed for `endpoint_stall_after`) is *deferred*:
// handed to the retry schedule without a request (a first attempt keeps attempts = 0, so the
// schedule still owes it every try). Its Kafka record is then handed off, so a hanging endpoint
// pins at most its slots plus its queue of offsets, and kafka.max_pending backpressure engages
// only when the healthy endpoints (or the global limit) are saturated.
//
// Circuit breaker (health/breaker.hpp), shared by all instances through Redis
// (health/breaker_store.hpp, synced every 500 ms): after `breaker.failure_threshold` failed
// attempts within `breaker.window` an endpoint's circuit opens and its deliveries are deferred
// (first attempts and claimed retries alike, their attempt counts unchanged) to just after the
// cool-down, spread over half a cool-down. Then one probe, by the one instance holding the
// probe lease, decides: success closes the circuit everywhere, failure doubles the cool-down.
//
// Throttling (health/throttle.hpp): with a slot, a delivery also waits for its endpoint's pace:
// an AIMD rate that halves on 429/502/503/504/timeouts and recovers on success, the endpoint's
// fixed rate_limit_per_second, and any Retry-After pause. A wait past the queue timeout defers.
//
// Auto-disable: after `warn_after_dead_letters` deliveries to an endpoint in a row were
// dead-lettered, webhook_endpoint.failing goes to the ops topic (kafka/ops_events.hpp) and the
// log; an endpoint whose every attempt failed for `auto_disable_after` is disabled
// (webhook_endpoint.disabled, as for 410 Gone and `webhook-delivery: disable`). A success ends
// the streak.
//
//   engine e(deps, options);
//   e.start();
//   consumer.on_message = [&](kafka::message r, auto done) { e.submit(std::move(r), done); };
//   ...
//   e.stop(std::chrono::seconds(10));
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "admin/metrics.hpp"
#include "delivery/async_semaphore.hpp"
#include "delivery/lane.hpp"
#include "delivery/outcome.hpp"
#include "health/breaker.hpp"
#include "health/breaker_store.hpp"
#include "health/report.hpp"
#include "health/throttle.hpp"
#include "health/window.hpp"
#include "http/client.hpp"
#include "kafka/consumer.hpp"
#include "kafka/dead_letter.hpp"
#include "kafka/ops_events.hpp"
#include "registry/cache.hpp"
#include "registry/store.hpp"
#include "retry/schedule.hpp"
#include "retry/store.hpp"
#include "tresse/common/event.hpp"
#include "tresse/receiver/key.hpp"

namespace tresse::dispatcher {

using clock_time = std::chrono::system_clock::time_point;

struct engine_options {
  http::client_options http;
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
  std::size_t blocking_threads = 4;
  health::breaker_options breaker;
  health::throttle_options throttle;
  // An endpoint failing every attempt for this long is disabled (0: never).
  std::chrono::milliseconds auto_disable_after = std::chrono::hours(24 * 5);
  // This many deliveries in a row dead-lettered: webhook_endpoint.failing is published (0: never).
  std::int64_t warn_after_dead_letters = 5;
  std::string instance_id;  // who holds a probe lease; "" = hostname:pid
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

class engine {
 public:
  engine(engine_deps deps, engine_options options);
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  void start();

  // Thread-safe. `handed_off` runs at most once, on the engine's io thread.
  void submit(kafka::message record, std::function<void()> handed_off);

  // Stops claiming retries and accepting records, waits up to `drain` for deliveries in
  // flight to be handed off, then abandons the rest (their offsets stay uncommitted, their
  // retry claims expire) and joins the threads. Idempotent.
  void stop(std::chrono::milliseconds drain);

  // Records submitted and not yet handed off (or abandoned).
  std::size_t pending() const { return pending_.load(); }

  // This instance's view of every endpoint it holds state for, as of the last second.
  // Thread-safe (a copy).
  std::vector<health::endpoint_report> health() const;

 private:
  struct event_meta;
  struct fanout;
  struct attempt_result;

  // The endpoints an event goes to: the subscribed ones, or for webhook.test only the one
  // its data.endpoint_id names.
  std::vector<std::shared_ptr<const registry::endpoint>> recipients(const events::event& ev) const;
  boost::asio::awaitable<void> handle_record(kafka::message record, std::function<void()> done);
  boost::asio::awaitable<void> first_delivery(std::shared_ptr<const event_meta> meta,
                                              std::shared_ptr<const registry::endpoint> ep,
                                              std::shared_ptr<fanout> fan);
  boost::asio::awaitable<void> retry_delivery(retry::task task);
  boost::asio::awaitable<void> poll_retries();
  // `k`: the lane priority (first attempt or from the retry schedule). A result with
  // `deferred` made no request: the caller hands the delivery to the schedule (defer()).
  boost::asio::awaitable<attempt_result> attempt(const event_meta& meta,
                                                 const registry::endpoint& ep, int number,
                                                 lane::kind k);
  // Hands a deferred delivery to the retry schedule, due at `due`, without counting an attempt.
  boost::asio::awaitable<bool> defer(retry::task& task, clock_time due, bool claimed);
  // Stores the task due at `due` (rescheduling it when `claimed`). nullopt: interrupted by
  // shutdown; false: a claimed task that another instance finished after our lease ran out.
  boost::asio::awaitable<std::optional<bool>> schedule_task(retry::task& task, clock_time due,
                                                            bool claimed);
  // Forgets per-endpoint state (lanes, keys) of endpoints gone from the registry, periodically.
  boost::asio::awaitable<void> prune_loop();
  // Adopts other instances' circuit states from the shared store, every 500 ms.
  boost::asio::awaitable<void> sync_breakers();
  // Every second: the health snapshot for health() and /metrics; every 2 s also to Redis.
  boost::asio::awaitable<void> health_loop();
  // After a retryable attempt: schedule the next try, or dead-letter when the schedule is
  // exhausted. Returns false only when shutdown interrupted it (nothing durable happened).
  // `claimed`: the task came from the retry schedule (rescheduled) rather than a first attempt.
  enum class handoff { interrupted, scheduled, dead_lettered, gone };
  boost::asio::awaitable<handoff> retry_or_dead_letter(retry::task task, const outcome& o,
                                                       bool claimed);
  boost::asio::awaitable<bool> dead_letter(std::string_view reason, const event_meta& meta,
                                           const std::string& endpoint_id, int attempts,
                                           const std::string& last_error);
  boost::asio::awaitable<bool> disable_endpoint(const registry::endpoint& ep,
                                                const outcome& o);
  // Hands off a delivered or disable_endpoint outcome; false only if shutdown interrupted it.
  boost::asio::awaitable<bool> settle(const registry::endpoint& ep, const outcome& o);
  static std::string describe(const attempt_result& r);  // "reason: error" for logs
  static event_meta meta_of(const retry::task& t);
  // The retry task of a first delivery (meta_of's inverse).
  static retry::task task_of(const event_meta& meta, const std::string& endpoint_id, int attempts,
                             std::string last_error);
  // Runs `f` on the blocking pool until it succeeds; false if stopping first. `f` is a named
  // local of the caller (see offload).
  boost::asio::awaitable<bool> durably(const char* what, std::function<status()>& f);
  // `f` must outlive the co_await (pass a named local: GCC 12 destroys lambda temporaries
  // inside a co_await expression twice).
  template <class F>
  boost::asio::awaitable<std::invoke_result_t<F&>> offload(F& f);
  boost::asio::awaitable<void> sleep(std::chrono::milliseconds d);
  // What the engine keeps per endpoint; io thread only. Entries are pruned when idle and gone
  // from the registry.
  struct endpoint_state {
    endpoint_state(boost::asio::any_io_executor ex, lane_options lo, health::breaker_options bo,
                   health::throttle_options to)
        : slots(std::move(ex), lo), circuit(bo), pace(to) {}
    lane slots;
    health::breaker circuit;
    health::throttle pace;
    health::outcome_window recent;
    std::string business_id;
    // When this instance last knew its open circuit to be in the shared store; empty while
    // closed or not yet published (then a sync must not close it).
    std::optional<std::chrono::steady_clock::time_point> open_shared_at;
    std::size_t users = 0;  // coroutines holding a reference: not prunable
  };
  endpoint_state& state_of(const std::string& endpoint_id);
  // When a delivery deferred by an open or half-open circuit should come back.
  clock_time circuit_due(const endpoint_state& st, clock_time now);
  // After an attempt: feeds the breaker, publishes an open/close to the shared store.
  boost::asio::awaitable<void> report_to_breaker(const registry::endpoint& ep,
                                                 endpoint_state& st, const outcome& o);
  void report_to_throttle(const registry::endpoint& ep, endpoint_state& st, const outcome& o);
  // Blocking-pool side of the failure bookkeeping: counters, then auto-disable when due.
  void note_failure(const std::string& endpoint_id);
  void note_dead_letter(const std::string& endpoint_id, bool exhausted);
  // Publishes on the ops topic (blocking pool), logging a failure.
  void publish_ops(const kafka::ops_event& e);
  // The endpoint's live secrets, parsed once per change (cached per endpoint).
  std::vector<receiver::key> signing_keys(const registry::endpoint& ep,
                                          std::chrono::system_clock::time_point now);

  engine_deps deps_;
  engine_options options_;
  boost::asio::io_context io_;
  boost::asio::thread_pool blocking_;
  http::client client_;
  async_semaphore global_;
  std::unordered_map<std::string, std::unique_ptr<endpoint_state>> states_;
  std::string instance_id_;
  std::mt19937_64 rng_{std::random_device{}()};  // io thread only
  mutable std::mutex health_mu_;
  std::vector<health::endpoint_report> health_;  // the last snapshot, under health_mu_
  std::size_t retries_outstanding_ = 0;  // claimed retries not yet finished (io thread only)
  struct signing_keys_entry {
    std::vector<std::string> secrets;
    std::vector<receiver::key> keys;
  };
  std::unordered_map<std::string, signing_keys_entry> keys_;
  std::thread io_thread_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<std::size_t> pending_{0};
  std::atomic<std::size_t> active_{0};  // coroutines that may still hand something off

  // Metrics, registered once.
  counter* delivered_;
  counter* scheduled_;
  counter* deferred_;
  counter* dead_lettered_;
  counter* disabled_;
  counter* poison_;
  counter* unmatched_;
  histogram* latency_;
  gauge* in_flight_;
};

}  // namespace tresse::dispatcher
