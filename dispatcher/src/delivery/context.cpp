#include "delivery/context.hpp"

#include <unistd.h>

#include <algorithm>

#include "tresse/common/log.hpp"

namespace tresse::dispatcher {
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

delivery_counters register_counters(metrics& m) {
  const char* help = "Deliveries by how they were handed off";
  return {
      .delivered = &m.make_counter("tresse_deliveries_total", help, {{"outcome", "delivered"}}),
      .scheduled = &m.make_counter("tresse_deliveries_total", help, {{"outcome", "retry_scheduled"}}),
      .deferred = &m.make_counter("tresse_deliveries_total", help, {{"outcome", "deferred"}}),
      .dead_lettered = &m.make_counter("tresse_deliveries_total", help, {{"outcome", "dead_lettered"}}),
      .disabled = &m.make_counter("tresse_deliveries_total", help, {{"outcome", "endpoint_disabled"}}),
      .poison = &m.make_counter("tresse_poison_messages_total",
                                "Kafka records that were not valid events (dead-lettered)"),
      .unmatched = &m.make_counter("tresse_events_unmatched_total", "Events no endpoint subscribes to"),
      .local_errors = &m.make_counter(
          "tresse_local_errors_total",
          "Deliveries deferred because this process ran out of descriptors, buffers or memory"),
      .proxy_failures = &m.make_counter(
          "tresse_proxy_failures_total",
          "Deliveries deferred because the egress proxy failed (unreachable, 407, its own 5xx)"),
      .latency = &m.make_histogram("tresse_attempt_duration_seconds", "Duration of delivery attempts",
                                   {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15}),
      .in_flight = &m.make_gauge("tresse_attempts_in_flight", "Delivery attempts in flight"),
      .deferring = &m.make_gauge("tresse_deferrals_in_progress",
                                 "Deferrals being written to the retry schedule (at most 256 per "
                                 "delivery shard at once)"),
      .deferrals_waiting = &m.make_gauge(
          "tresse_deferrals_waiting",
          "Deferred deliveries waiting to be written, beyond the 256 per delivery shard"),
      .ordered_held = &m.make_gauge(
          "tresse_ordered_held_events",
          "Ordered events held in memory behind their resource's head in flight here, not "
          "entered into Redis yet (at most delivery.endpoint_queue_timeout each)"),
  };
}

std::string default_instance_id() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(::getpid());
}

}  // namespace

context::context(engine_deps d, engine_options o)
    : deps(d),
      options(std::move(o)),
      counters(register_counters(deps.stats)),
      attempts(deps.stats),
      instance_id(options.instance_id.empty() ? default_instance_id() : options.instance_id),
      tls(http::make_tls_context(options.http)),
      blocking(std::max<std::size_t>(options.blocking_threads, 1)),
      owners(options.io_threads) {
  // A Retry-After pauses the endpoint no longer than the schedule's longest delay (DESIGN.md).
  options.throttle.max_pause = std::min(options.throttle.max_pause, deps.schedule.max_delay());
}

asio::awaitable<bool> durably(context& c, const char* what, std::function<status()>& f) {
  auto backoff = 100ms;
  for (;;) {
    status st = co_await offload(c, f);
    if (st) co_return true;
    if (c.stopping) co_return false;
    log::warn("retrying a hand-off", {{"what", what}, {"error", st.error().message}});
    co_await sleep_for(backoff);
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, 5s);
  }
}

}  // namespace tresse::dispatcher
