#include "delivery/endpoint_lane.hpp"

#include <algorithm>
#include <charconv>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "tresse/common/ids.hpp"
#include "tresse/common/log.hpp"
#include "tresse/receiver/sign.hpp"

namespace tresse::dispatcher {
namespace asio = boost::asio;
using namespace std::chrono_literals;
using clock = std::chrono::system_clock;
using steady = std::chrono::steady_clock;

std::string attempt_result::describe() const {
  return error.empty() ? result.reason : result.reason + ": " + error;
}

endpoint_lane::endpoint_lane(asio::any_io_executor ex, const engine_options& o)
    : slots_(std::move(ex), lane_options{.slots = o.endpoint_concurrency,
                                         .queue_limit = o.endpoint_queue_limit,
                                         .stall_after = o.endpoint_stall_after}),
      circuit_(o.breaker),
      pace_(o.throttle) {}

bool endpoint_lane::take_streak_reset(steady::time_point now) {
  if (!streak_dirty_ && now - streak_reset_at_ < 1s) return false;
  streak_dirty_ = false;
  streak_reset_at_ = now;
  return true;
}

clock::time_point endpoint_lane::circuit_due(std::mt19937_64& rng, clock::time_point now) const {
  // Spread the deferred backlog so that a closing circuit is not met by all of it at once.
  const auto cool = circuit_.current_cool_down();
  std::uniform_real_distribution<double> spread(0.0, 0.5);
  if (circuit_.open_until() > now) {
    return circuit_.open_until() + std::chrono::duration_cast<clock::duration>(cool * spread(rng));
  }
  // Half-open, the probe elsewhere or in flight: back in half to one cool-down.
  return now + std::chrono::duration_cast<clock::duration>(cool * (0.5 + spread(rng)));
}

void endpoint_lane::adopt_shared_open(clock_time until, steady::time_point read_at) {
  const bool was_closed = circuit_.current(clock::now()) == health::breaker::state::closed;
  circuit_.adopt_open(until);
  open_shared_at_ = read_at;
  if (was_closed) log::info("circuit opened by another instance", {{"business", business_id_}});
}

bool endpoint_lane::adopt_shared_closed(steady::time_point read_at, clock_time now) {
  if (circuit_.current(now) == health::breaker::state::closed) return false;
  if (!open_shared_at_ || *open_shared_at_ >= read_at) return false;
  circuit_.adopt_closed();
  open_shared_at_.reset();
  return true;
}

health::endpoint_report endpoint_lane::report(const std::string& id, clock_time now) const {
  health::endpoint_report r;
  r.endpoint_id = id;
  r.business_id = business_id_;
  r.breaker = health::to_string(circuit_.current(now));
  r.attempts = recent_.size();
  r.success_rate = recent_.success_rate();
  if (auto p = recent_.latency_percentile(0.5)) r.p50_ms = p->count();
  if (auto p = recent_.latency_percentile(0.99)) r.p99_ms = p->count();
  r.rate_per_second = pace_.rate();
  r.in_flight = slots_.busy();
  r.queued = slots_.waiting(lane::kind::first) + slots_.waiting(lane::kind::retry);
  r.state = health::classify(r, pace_.adaptive_rate().has_value());
  return r;
}

bool endpoint_lane::report_to_breaker(const registry::endpoint& ep, const outcome& o,
                                      bool shared) {
  const auto now = clock::now();
  if (o.next == outcome::action::retry) {
    if (!circuit_.on_failure(now)) return false;
    log::warn("circuit opened", {{"endpoint", ep.id},
                                 {"business", ep.business_id},
                                 {"cool_down_ms", circuit_.current_cool_down().count()},
                                 {"reason", o.reason}});
  } else if (o.next == outcome::action::delivered) {
    if (!circuit_.on_success(now)) return false;
    log::info("circuit closed", {{"endpoint", ep.id}, {"business", ep.business_id}});
  } else {
    return false;
  }
  open_shared_at_.reset();
  return shared;
}

asio::awaitable<void> endpoint_lane::share_circuit(context& ctx, const registry::endpoint& ep) {
  // A state change, not per delivery: rare enough for the blocking pool.
  if (circuit_.current(clock::now()) != health::breaker::state::closed) {
    const auto until = circuit_.open_until();
    auto publish = [&ctx, &ep, until] { return ctx.deps.breakers->publish_open(ep.id, until, true); };
    if (auto r = co_await offload(ctx, publish); r && circuit_.open_until() == until) {
      open_shared_at_ = steady::now();
    }
  } else {
    auto publish = [&ctx, &ep] { return ctx.deps.breakers->publish_closed(ep.id); };
    if (auto r = co_await offload(ctx, publish); !r) {
      log::warn("sharing a closed circuit failed", {{"endpoint", ep.id}, {"error", r.error().message}});
    }
  }
}

void endpoint_lane::report_to_throttle(const registry::endpoint& ep, const outcome& o) {
  const bool was_throttled = pace_.adaptive_rate().has_value();
  const auto now = steady::now();
  if (o.throttle_signal) {
    std::optional<std::chrono::nanoseconds> hint;
    if (o.retry_after) hint = *o.retry_after;
    pace_.on_overload(now, hint);
  } else if (o.next == outcome::action::delivered) {
    pace_.on_success(now);
  } else {
    return;
  }
  const bool throttled = pace_.adaptive_rate().has_value();
  if (throttled && !was_throttled) {
    log::warn("endpoint throttled", {{"endpoint", ep.id},
                                     {"rate_per_second", *pace_.adaptive_rate()},
                                     {"reason", o.reason}});
  } else if (!throttled && was_throttled) {
    log::info("endpoint throttle lifted", {{"endpoint", ep.id}});
  }
}

namespace {

// Whether `cached` is exactly ep.live_secrets(now), without building that vector: this runs
// for every attempt.
bool same_live_secrets(const registry::endpoint& ep, clock::time_point now,
                       const std::vector<std::string>& cached) {
  std::size_t i = 0;
  return ep.for_each_live_secret(
             now, [&](const std::string& s) { return i < cached.size() && cached[i++] == s; }) &&
         i == cached.size();
}

}  // namespace

const std::vector<receiver::key>& endpoint_lane::signing_keys(const registry::endpoint& ep,
                                                              clock::time_point now) {
  // Parsing a key sets up its HMAC contexts: once per change of the live secrets.
  if (same_live_secrets(ep, now, secrets_)) return keys_;
  secrets_ = ep.live_secrets(now);
  keys_.clear();
  for (const auto& text : secrets_) {
    std::error_code ec;
    auto k = receiver::key::parse(text, ec);
    if (!ec) keys_.push_back(std::move(k));
  }
  return keys_;
}

namespace {

// How long a delivery deferred without an attempt (no slot, paced out, a local error) waits:
// the schedule's first delay.
clock::duration retry_delay(const context& ctx) {
  return std::chrono::duration_cast<clock::duration>(ctx.deps.schedule.next_delay(1).value_or(5s));
}

// How long one attempt to `ep` may take: its own timeout_seconds, else the client's default.
std::chrono::milliseconds attempt_timeout(const registry::endpoint& ep,
                                          std::chrono::milliseconds fallback) {
  if (ep.timeout_seconds == 0) return fallback;
  return std::chrono::seconds(ep.timeout_seconds);
}

}  // namespace

const std::expected<http::target, http::failure>& endpoint_lane::target_for(
    const http::client& client, const registry::endpoint& ep) {
  // Parsed once per change of the endpoint's URL or timeout, not per attempt.
  const auto& identity = ep.tls_client_certificate.identity;
  if (!target_ || target_url_ != ep.url || target_timeout_s_ != ep.timeout_seconds ||
      (*target_ && (*target_)->identity != identity)) {
    target_ = client.prepare(ep.url, identity);
    if (*target_) (*target_)->total_timeout = attempt_timeout(ep, client.options().total_timeout);
    target_url_ = ep.url;
    target_timeout_s_ = ep.timeout_seconds;
  }
  return *target_;
}

void endpoint_lane::grant(admission& out, lane::kind k, bool probe) {
  out.state = admission::granted;
  out.slot = lane_permit(&slots_, k);
  if (probe) out.probe = probe_claim(&circuit_);
}

bool endpoint_lane::try_admit(const engine_options& o, lane::kind k, admission& out) {
  // What admit() does when its circuit says send and a slot is free, in the same order.
  if (circuit_.current(clock::now()) != health::breaker::state::closed) return false;
  const auto deadline = steady::now() + o.endpoint_queue_timeout;
  if (!slots_.try_acquire(k)) return false;
  out.user = use_lane(users_);
  out.deadline = deadline;
  grant(out, k, false);
  return true;
}

asio::awaitable<admission> endpoint_lane::admit(shard_env& env, const registry::endpoint& ep,
                                                const event_meta& meta, lane::kind k) {
  context& ctx = env.ctx;
  admission out;
  out.user = use_lane(users_);
  bool probe = false;
  const health::breaker::verdict verdict = circuit_.admit(clock::now());
  if (verdict == health::breaker::verdict::defer) {
    out.defer(circuit_due(env.rng, clock::now()));
    co_return out;
  }
  if (verdict == health::breaker::verdict::probe) {
    bool won = true;
    if (ctx.deps.breakers != nullptr) {
      const auto lease = attempt_timeout(ep, ctx.options.http.total_timeout) + 5s;
      auto take_lease = [&ctx, &ep, lease] {
        return ctx.deps.breakers->try_probe_lease(ep.id, ctx.instance_id, lease, clock::now());
      };
      auto r = co_await offload(ctx, take_lease);
      won = r && r->won;  // Redis down: nobody can tell who probes, so nobody does
      if (r && !r->won && r->open_until) circuit_.adopt_open(*r->open_until);
    }
    if (!won) {
      circuit_.probe_abandoned();
      out.defer(circuit_due(env.rng, clock::now()));
      co_return out;
    }
    probe = true;
    log::info("circuit half-open: probing", {{"endpoint", ep.id}, {"event", meta.id}});
  }

  out.deadline = steady::now() + ctx.options.endpoint_queue_timeout;
  lane::admit admitted = lane::admit::granted;
  if (!slots_.try_acquire(k)) {  // no coroutine when a slot is free
    admitted = co_await slots_.acquire(k, out.deadline);
  }
  if (admitted != lane::admit::granted && probe) circuit_.probe_abandoned();
  if (admitted == lane::admit::cancelled) {
    out.state = admission::cancelled;
    co_return out;
  }
  if (admitted == lane::admit::deferred) {
    out.defer(clock::now() + retry_delay(ctx));
    co_return out;
  }
  grant(out, k, probe);
  co_return out;
}

asio::awaitable<attempt_result> endpoint_lane::attempt(shard_env& env, const event_meta& meta,
                                                       const registry::endpoint& ep, int number,
                                                       admission& admitted,
                                                       std::uint64_t sequence) {
  context& ctx = env.ctx;
  attempt_result out;
  auto defer_until = [&out](clock_time due) {
    out.ran = true;
    out.deferred = true;
    out.defer_due = due;
  };
  if (admitted.state == admission::cancelled) co_return out;
  if (admitted.state == admission::deferred) {
    defer_until(admitted.defer_due);
    co_return out;
  }
  const lane_permit endpoint_permit = std::move(admitted.slot);
  // From here a probe always ends in a report, or is abandoned.
  probe_claim abandon_probe = std::move(admitted.probe);
  const bool probe = abandon_probe != nullptr;
  const auto deadline = admitted.deadline;
  // The circuit may have opened while this one waited: for the slot, for its pace (up to the
  // queue timeout: a throttled endpoint's failures open it while deliveries wait their turn), or
  // for the shard's in-flight permit. Then it is deferred, not sent into a circuit the others
  // already spare.
  auto circuit_opened = [&] {
    if (probe || circuit_.current(clock::now()) == health::breaker::state::closed) return false;
    defer_until(circuit_due(env.rng, clock::now()));
    return true;
  };
  if (circuit_opened()) co_return out;
  pace_.set_fixed_rate(static_cast<double>(ep.rate_limit_per_second));
  const auto paced_at =
      pace_.reserve(steady::now(), std::max<steady::duration>(deadline - steady::now(), 0s));
  if (!paced_at) {
    const auto pause = std::chrono::duration_cast<clock::duration>(pace_.paused_until() - steady::now());
    defer_until(clock::now() + std::max(retry_delay(ctx), pause));
    co_return out;
  }
  bool waited = false;
  if (*paced_at > steady::now()) {
    asio::steady_timer pace_timer(co_await asio::this_coro::executor, *paced_at);
    co_await pace_timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ctx.stopping) co_return out;
    waited = true;
  }
  if (!env.in_flight.try_acquire()) {  // no coroutine when a permit is free
    const bool got = co_await env.in_flight.acquire();
    if (!got) co_return out;
    waited = true;
  }
  semaphore_permit in_flight_permit(&env.in_flight);
  if (ctx.stopping) co_return out;
  if (waited && circuit_opened()) co_return out;

  const auto now = clock::now();
  const std::int64_t ts = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const std::vector<receiver::key>& keys = signing_keys(ep, now);
  std::error_code ec;
  std::string signature = receiver::sign_all(keys, meta.id, ts, *meta.body, ec);
  retry::attempt_record& rec = out.record;
  rec.id = ids::time_ordered("att_", now);
  rec.event_id = meta.id;
  rec.event_type = meta.type;
  rec.endpoint_id = ep.id;
  rec.attempt = number;
  rec.at = now;
  if (keys.empty() || ec) {
    // A broken stored secret is the operator's to fix; retrying lets them.
    out.ran = true;
    out.result = outcome{outcome::action::retry, std::nullopt, "invalid_secret", false};
    out.error = "endpoint has no usable signing secret";
    rec.error = out.describe();
    co_return out;
  }

  char ts_text[24];
  const std::string_view ts_view(ts_text, std::to_chars(ts_text, ts_text + sizeof ts_text, ts).ptr);
  const http::header_fields& own = own_headers_.of(ep);
  http::header_fields headers;
  headers.reserve(160 + meta.id.size() + signature.size() + meta.type.size() + own.wire().size());
  // Names checked when compiled: adding them checks only the values.
  using known = http::header_fields::known;
  static constexpr known content_type("content-type"), id(receiver::header_id),
      timestamp(receiver::header_timestamp), signature_field(receiver::header_signature),
      event_type("tresse-event-type"), sequence_field("tresse-sequence");
  headers.add(content_type, "application/json")
      .add(id, meta.id)
      .add(timestamp, ts_view)
      .add(signature_field, signature)
      .add(event_type, meta.type);
  char seq_text[24];
  if (sequence > 0) {
    const auto end = std::to_chars(seq_text, seq_text + sizeof seq_text, sequence).ptr;
    headers.add(sequence_field, std::string_view(seq_text, end - seq_text));
  }
  headers.append(own);
  const std::string_view body = *meta.body;
  std::expected<http::response, http::failure> r;
  if (const auto& to = target_for(env.client, ep)) {
    const gauge_hold in_flight(ctx.counters.in_flight);
    r = co_await env.client.post(*to, headers, body);
  } else {
    r = std::unexpected(to.error());
  }
  if (!r && r.error().kind == http::failure_kind::cancelled) co_return out;
  const bool proxy_failed = !r && r.error().kind == http::failure_kind::proxy;
  if (proxy_failed || (!r && r.error().kind == http::failure_kind::local)) {
    // Out of descriptors or memory here, or the egress proxy failing: not the endpoint's
    // fault. No attempt is counted and nothing is reported to the breaker or the throttle; the
    // delivery comes back later.
    (proxy_failed ? ctx.counters.proxy_failures : ctx.counters.local_errors)->inc();
    if (proxy_failed) ctx.proxy_health.failed();
    log::warn(proxy_failed ? "egress proxy failed; delivery deferred without an attempt"
                           : "local resource error; delivery deferred without an attempt",
              {{"endpoint", ep.id}, {"error", r.error().message}});
    defer_until(clock::now() + retry_delay(ctx));
    co_return out;
  }
  if (r && target_->has_value() && (*target_)->via_proxy) ctx.proxy_health.worked();

  out.ran = true;
  out.result = classify_attempt(r);
  ctx.attempts.count(r);
  (void)abandon_probe.release();  // reported: the probe is done
  business_id_ = ep.business_id;
  const bool delivered = out.result.next == outcome::action::delivered;
  recent_.record(delivered, r ? std::optional(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    r->latency))
                              : std::nullopt);
  if (!delivered) note_failure();
  if (report_to_breaker(ep, out.result, ctx.deps.breakers != nullptr)) {
    co_await share_circuit(ctx, ep);  // only when the circuit opened or closed
  }
  report_to_throttle(ep, out.result);
  if (r) {
    rec.status = static_cast<int>(r->status);
    rec.latency = std::chrono::duration_cast<std::chrono::milliseconds>(r->latency);
    ctx.counters.latency->observe(std::chrono::duration<double>(r->latency).count());
    rec.response_snippet = std::move(r->body_snippet);
  } else {
    // The record's error says why no response came; a response's status says what it was
    // (the reason, "http_500", stays in describe() for the task and the logs).
    out.error = r.error().message;
    rec.error = out.describe();
  }
  rec.succeeded = delivered;
  if (log::enabled(log::level::debug)) {  // the fields cost allocations even when unused
    log::debug("attempt", {{"event", meta.id},
                           {"endpoint", ep.id},
                           {"attempt", number},
                           {"status", rec.status},
                           {"outcome", out.result.reason}});
  }
  co_return out;
}

}  // namespace tresse::dispatcher
