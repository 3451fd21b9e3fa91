#include "delivery/engine.hpp"

#include <unistd.h>

#include <algorithm>
#include <unordered_set>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "tresse/common/ids.hpp"
#include "tresse/common/log.hpp"
#include "tresse/receiver/sign.hpp"

namespace tresse::dispatcher {
namespace asio = boost::asio;
using namespace std::chrono_literals;
using clock = std::chrono::system_clock;

// What every attempt of one event needs; shared by the fan-out's deliveries.
struct engine::event_meta {
  std::string id;
  std::string type;
  std::string business_id;
  std::shared_ptr<const std::string> body;  // the exact bytes, serialized once
  kafka::dead_letter::source_ref source;     // where it came from, for dead letters
};

// Counts a record's deliveries down to its hand-off.
struct engine::fanout {
  std::size_t remaining = 0;
  std::function<void()> done;
  void one_done() {
    if (--remaining == 0 && done) std::exchange(done, nullptr)();
  }
};

struct engine::attempt_result {
  bool ran = false;  // false: cancelled by shutdown before or during the attempt
  bool deferred = false;  // no request made: hand it to the schedule, due at defer_due
  clock::time_point defer_due;
  outcome result;
  unsigned status = 0;
  std::string error;
};

namespace {

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

}  // namespace

engine::engine(engine_deps deps, engine_options options)
    : deps_(deps),
      options_(std::move(options)),
      blocking_(options_.blocking_threads),
      client_(io_, options_.http),
      global_(io_.get_executor(), options_.max_in_flight) {
  // A Retry-After pauses the endpoint no longer than the schedule's longest delay (DESIGN.md).
  options_.throttle.max_pause = std::min(options_.throttle.max_pause, deps_.schedule.max_delay());
  instance_id_ = options_.instance_id;
  if (instance_id_.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    instance_id_ = std::string(host) + ":" + std::to_string(::getpid());
  }
  auto& m = deps_.stats;
  const char* help = "Deliveries by how they were handed off";
  delivered_ = &m.make_counter("tresse_deliveries_total", help, {{"outcome", "delivered"}});
  scheduled_ = &m.make_counter("tresse_deliveries_total", help, {{"outcome", "retry_scheduled"}});
  deferred_ = &m.make_counter("tresse_deliveries_total", help, {{"outcome", "deferred"}});
  dead_lettered_ = &m.make_counter("tresse_deliveries_total", help, {{"outcome", "dead_lettered"}});
  disabled_ = &m.make_counter("tresse_deliveries_total", help, {{"outcome", "endpoint_disabled"}});
  poison_ = &m.make_counter("tresse_poison_messages_total",
                            "Kafka records that were not valid events (dead-lettered)");
  unmatched_ = &m.make_counter("tresse_events_unmatched_total",
                               "Events no endpoint subscribes to");
  latency_ = &m.make_histogram("tresse_attempt_duration_seconds", "Duration of delivery attempts",
                               {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15});
  in_flight_ = &m.make_gauge("tresse_attempts_in_flight", "Delivery attempts in flight");
  m.make_callback_gauge("tresse_records_pending", "Kafka records not yet handed off",
                        [this] { return static_cast<double>(pending_.load()); });
  // Endpoint health, bounded: a count per state, and only the 10 worst endpoints by name.
  for (const char* state : {"healthy", "failing", "throttled", "circuit_open", "circuit_half_open",
                            "idle"}) {
    m.make_callback_gauge(
        "tresse_endpoints", "Endpoints this instance delivers to, by health state",
        [this, state] {
          auto all = health();
          return static_cast<double>(std::count_if(
              all.begin(), all.end(), [&](const auto& r) { return r.state == state; }));
        },
        {{"state", state}});
  }
  m.make_callback_family(
      "tresse_endpoint_worst_success_ratio",
      "Success ratio of the last attempts, for the 10 endpoints with the lowest",
      [this] {
        auto all = health();
        std::erase_if(all, [](const auto& r) { return r.attempts == 0; });
        std::sort(all.begin(), all.end(),
                  [](const auto& a, const auto& b) { return a.success_rate < b.success_rate; });
        metrics::labelled_values out;
        for (const auto& r : all) out.push_back({{{"endpoint", r.endpoint_id}}, r.success_rate});
        return out;
      },
      10);
  m.make_callback_family(
      "tresse_endpoint_worst_p99_seconds",
      "p99 latency of the last attempts, for the 10 endpoints with the highest",
      [this] {
        auto all = health();
        std::erase_if(all, [](const auto& r) { return !r.p99_ms; });
        std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return *a.p99_ms > *b.p99_ms; });
        metrics::labelled_values out;
        for (const auto& r : all) {
          out.push_back({{{"endpoint", r.endpoint_id}}, static_cast<double>(*r.p99_ms) / 1000.0});
        }
        return out;
      },
      10);
}

engine::~engine() { stop(0ms); }

void engine::start() {
  work_.emplace(io_.get_executor());
  io_thread_ = std::thread([this] { io_.run(); });
  asio::co_spawn(io_, poll_retries(), asio::detached);
  asio::co_spawn(io_, prune_loop(), asio::detached);
  if (deps_.breakers != nullptr) asio::co_spawn(io_, sync_breakers(), asio::detached);
  asio::co_spawn(io_, health_loop(), asio::detached);
}

std::vector<health::endpoint_report> engine::health() const {
  std::lock_guard lock(health_mu_);
  return health_;
}

asio::awaitable<void> engine::health_loop() {
  for (int tick = 0; !stopping_; ++tick) {
    co_await sleep(1s);
    const auto now = clock::now();
    std::vector<health::endpoint_report> reports;
    reports.reserve(states_.size());
    for (const auto& [id, st] : states_) {
      health::endpoint_report r;
      r.endpoint_id = id;
      r.business_id = st->business_id;
      r.breaker = health::to_string(st->circuit.current(now));
      r.attempts = st->recent.size();
      r.success_rate = st->recent.success_rate();
      if (auto p = st->recent.latency_percentile(0.5)) r.p50_ms = p->count();
      if (auto p = st->recent.latency_percentile(0.99)) r.p99_ms = p->count();
      r.rate_per_second = st->pace.rate();
      r.in_flight = st->slots.busy();
      r.queued = st->slots.waiting(lane::kind::first) + st->slots.waiting(lane::kind::retry);
      r.state = health::classify(r, st->pace.adaptive_rate().has_value());
      reports.push_back(std::move(r));
    }
    {
      std::lock_guard lock(health_mu_);
      health_ = reports;
    }
    if (deps_.reports != nullptr && tick % 2 == 1) {
      auto publish = [this, &reports] { return deps_.reports->publish(instance_id_, reports); };
      (void)co_await offload(publish);  // best effort: the CLI shows what it finds
    }
  }
}

void engine::submit(kafka::message record, std::function<void()> handed_off) {
  pending_.fetch_add(1);
  active_.fetch_add(1);  // counted until handle_record takes over
  asio::post(io_, [this, record = std::move(record), done = std::move(handed_off)]() mutable {
    asio::co_spawn(io_, handle_record(std::move(record), std::move(done)), asio::detached);
    active_.fetch_sub(1);
  });
}

void engine::stop(std::chrono::milliseconds drain) {
  if (stopped_.exchange(true)) return;
  stopping_ = true;
  if (!io_thread_.joinable()) return;
  auto deadline = std::chrono::steady_clock::now() + drain;
  while (active_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  if (active_.load() > 0) {
    log::warn("drain deadline passed; abandoning deliveries in flight (Kafka redelivers them)",
              {{"in_flight", active_.load()}});
  }
  asio::post(io_, [this] {
    global_.cancel_all();
    for (auto& [id, st] : states_) st->slots.cancel_all();
  });
  work_.reset();
  io_.stop();
  io_thread_.join();
  blocking_.join();
}

template <class F>
asio::awaitable<std::invoke_result_t<F&>> engine::offload(F& f) {
  using R = std::invoke_result_t<F&>;
  // Only a reference is captured: nothing with a destructor lives in the co_await expression.
  auto run = [&f]() -> asio::awaitable<R> { co_return f(); };
  co_return co_await asio::co_spawn(blocking_, run, asio::use_awaitable);
}

asio::awaitable<void> engine::sleep(std::chrono::milliseconds d) {
  asio::steady_timer t(io_, d);
  co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<bool> engine::durably(const char* what, std::function<status()>& f) {
  auto backoff = 100ms;
  for (;;) {
    status st = co_await offload(f);
    if (st) co_return true;
    if (stopping_) co_return false;
    log::warn("retrying a hand-off", {{"what", what}, {"error", st.error().message}});
    co_await sleep(backoff);
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, 5s);
  }
}

engine::endpoint_state& engine::state_of(const std::string& endpoint_id) {
  auto& slot = states_[endpoint_id];
  if (!slot) {
    slot = std::make_unique<endpoint_state>(
        io_.get_executor(),
        lane_options{.slots = options_.endpoint_concurrency,
                     .queue_limit = options_.endpoint_queue_limit,
                     .stall_after = options_.endpoint_stall_after},
        options_.breaker, options_.throttle);
  }
  return *slot;
}

clock::time_point engine::circuit_due(const endpoint_state& st, clock::time_point now) {
  // Spread the deferred backlog so that a closing circuit is not met by all of it at once.
  const auto cool = st.circuit.current_cool_down();
  std::uniform_real_distribution<double> spread(0.0, 0.5);
  if (st.circuit.open_until() > now) {
    return st.circuit.open_until() +
           std::chrono::duration_cast<clock::duration>(cool * spread(rng_));
  }
  // Half-open, the probe elsewhere or in flight: back in half to one cool-down.
  return now + std::chrono::duration_cast<clock::duration>(cool * (0.5 + spread(rng_)));
}

asio::awaitable<void> engine::report_to_breaker(const registry::endpoint& ep, endpoint_state& st,
                                                const outcome& o) {
  const auto now = clock::now();
  if (o.next == outcome::action::retry) {
    if (!st.circuit.on_failure(now)) co_return;
    const auto until = st.circuit.open_until();
    log::warn("circuit opened", {{"endpoint", ep.id},
                                 {"business", ep.business_id},
                                 {"cool_down_ms", st.circuit.current_cool_down().count()},
                                 {"reason", o.reason}});
    st.open_shared_at.reset();
    if (deps_.breakers == nullptr) co_return;
    auto publish = [this, &ep, until] { return deps_.breakers->publish_open(ep.id, until, true); };
    if (auto r = co_await offload(publish); r && st.circuit.open_until() == until) {
      st.open_shared_at = std::chrono::steady_clock::now();
    }
  } else if (o.next == outcome::action::delivered) {
    if (!st.circuit.on_success(now)) co_return;
    log::info("circuit closed", {{"endpoint", ep.id}, {"business", ep.business_id}});
    st.open_shared_at.reset();
    if (deps_.breakers == nullptr) co_return;
    auto publish = [this, &ep] { return deps_.breakers->publish_closed(ep.id); };
    if (auto r = co_await offload(publish); !r) {
      log::warn("sharing a closed circuit failed", {{"endpoint", ep.id}, {"error", r.error().message}});
    }
  }
}

void engine::report_to_throttle(const registry::endpoint& ep, endpoint_state& st,
                                const outcome& o) {
  const bool was_throttled = st.pace.adaptive_rate().has_value();
  const auto now = std::chrono::steady_clock::now();
  if (o.throttle_signal) {
    std::optional<std::chrono::nanoseconds> hint;
    if (o.retry_after) hint = *o.retry_after;
    st.pace.on_overload(now, hint);
  } else if (o.next == outcome::action::delivered) {
    st.pace.on_success(now);
  } else {
    return;
  }
  const bool throttled = st.pace.adaptive_rate().has_value();
  if (throttled && !was_throttled) {
    log::warn("endpoint throttled", {{"endpoint", ep.id},
                                     {"rate_per_second", *st.pace.adaptive_rate()},
                                     {"reason", o.reason}});
  } else if (!throttled && was_throttled) {
    log::info("endpoint throttle lifted", {{"endpoint", ep.id}});
  }
}

asio::awaitable<void> engine::sync_breakers() {
  while (!stopping_) {
    co_await sleep(500ms);
    if (stopping_) break;
    const auto started = std::chrono::steady_clock::now();
    auto read = [this] { return deps_.breakers->open_circuits(); };
    auto circuits = co_await offload(read);
    if (!circuits) continue;  // Redis down: each instance goes on with what it knows
    const auto now = clock::now();
    const bool loaded = deps_.endpoints.version() >= 0;
    std::unordered_set<std::string> shared;
    std::vector<std::string> stale;
    for (const auto& c : *circuits) {
      if (loaded && deps_.endpoints.find(c.endpoint_id) == nullptr) {
        stale.push_back(c.endpoint_id);  // the endpoint was deleted
        continue;
      }
      shared.insert(c.endpoint_id);
      endpoint_state& st = state_of(c.endpoint_id);
      const bool was_closed = st.circuit.current(now) == health::breaker::state::closed;
      st.circuit.adopt_open(c.open_until);
      st.open_shared_at = started;
      if (was_closed) log::info("circuit opened by another instance", {{"endpoint", c.endpoint_id}});
    }
    for (auto& [id, st] : states_) {
      // Closed elsewhere (a successful probe), unless our own open is newer than this read.
      if (st->circuit.current(now) == health::breaker::state::closed || shared.contains(id)) continue;
      if (!st->open_shared_at || *st->open_shared_at >= started) continue;
      st->circuit.adopt_closed();
      st->open_shared_at.reset();
      log::info("circuit closed by another instance", {{"endpoint", id}});
    }
    for (const auto& id : stale) {
      auto drop = [this, &id] { return deps_.breakers->publish_closed(id); };
      (void)co_await offload(drop);
    }
  }
}

asio::awaitable<void> engine::prune_loop() {
  // Bounds lanes_ and keys_ by the registry: a deleted endpoint's state goes once it is idle.
  while (!stopping_) {
    co_await sleep(5s);
    std::erase_if(states_, [this](const auto& kv) {
      return kv.second->users == 0 && kv.second->slots.idle() &&
             deps_.endpoints.find(kv.first) == nullptr;
    });
    std::erase_if(keys_, [this](const auto& kv) {
      return !states_.contains(kv.first) && deps_.endpoints.find(kv.first) == nullptr;
    });
  }
}

std::vector<receiver::key> engine::signing_keys(const registry::endpoint& ep,
                                               clock::time_point now) {
  // Parsing a key sets up its HMAC contexts; do it when the live secrets change, not per
  // attempt. Runs on the io thread only, like every other use of keys_.
  auto secrets = ep.live_secrets(now);
  signing_keys_entry& entry = keys_[ep.id];
  if (entry.secrets != secrets) {
    entry.keys.clear();
    for (const auto& text : secrets) {
      std::error_code ec;
      auto k = receiver::key::parse(text, ec);
      if (!ec) entry.keys.push_back(std::move(k));
    }
    entry.secrets = std::move(secrets);
  }
  return entry.keys;
}

std::vector<std::shared_ptr<const registry::endpoint>> engine::recipients(
    const events::event& ev) const {
  if (ev.type != "webhook.test") return deps_.endpoints.matching(ev.business_id, ev.type, ev.livemode);
  // A test ping (POST /v1/webhooks/{id}/test) names its one endpoint in data.endpoint_id;
  // subscriptions do not apply, the business and mode must.
  auto doc = nlohmann::json::parse(ev.raw, nullptr, /*allow_exceptions=*/false);
  std::string target;
  if (doc.is_object()) {
    auto data = doc.find("data");
    if (data != doc.end() && data->is_object()) {
      auto id = data->find("endpoint_id");
      if (id != data->end() && id->is_string()) target = id->get<std::string>();
    }
  }
  std::vector<std::shared_ptr<const registry::endpoint>> out;
  if (target.empty()) return out;
  auto ep = deps_.endpoints.find(target);
  if (ep && ep->enabled && ep->business_id == ev.business_id && ep->livemode == ev.livemode) {
    out.push_back(std::move(ep));
  }
  return out;
}

asio::awaitable<void> engine::handle_record(kafka::message record, std::function<void()> done) {
  active_guard active(active_);
  auto finish = [&] {
    pending_.fetch_sub(1);
    done();
  };
  auto ev = events::parse_event(record.value, options_.max_event_bytes);
  kafka::dead_letter::source_ref source{record.topic, record.partition, record.offset, record.key};
  if (!ev) {
    poison_->inc();
    log::warn("poison record dead-lettered",
              {{"topic", record.topic}, {"partition", record.partition},
               {"offset", record.offset}, {"reason", ev.error().message}});
    kafka::dead_letter dl;
    dl.reason = "invalid_event: " + ev.error().message;
    dl.original = record.value;
    dl.source = source;
    std::function<status()> produce = [this, &dl] { return deps_.dead_letters.produce_and_wait(dl); };
    bool ok = co_await durably("dead-letter poison record", produce);
    if (ok) finish();  // else: shutdown; the offset stays uncommitted
    co_return;
  }
  auto eps = recipients(*ev);
  if (eps.empty()) {
    unmatched_->inc();
    finish();
    co_return;
  }
  auto meta = std::make_shared<event_meta>();
  meta->id = ev->id;
  meta->type = ev->type;
  meta->business_id = ev->business_id;
  meta->body = std::make_shared<const std::string>(std::move(ev->raw));
  meta->source = std::move(source);
  auto fan = std::make_shared<fanout>();
  fan->remaining = eps.size();
  fan->done = [this, done = std::move(done)] {
    pending_.fetch_sub(1);
    done();
  };
  for (auto& ep : eps) asio::co_spawn(io_, first_delivery(meta, ep, fan), asio::detached);
}

asio::awaitable<engine::attempt_result> engine::attempt(const event_meta& meta,
                                                        const registry::endpoint& ep, int number,
                                                        lane::kind k) {
  attempt_result out;
  endpoint_state& st = state_of(ep.id);
  ++st.users;
  struct users_guard {
    std::size_t& n;
    ~users_guard() { --n; }
  } users{st.users};

  bool probe = false;
  const health::breaker::verdict verdict = st.circuit.admit(clock::now());
  if (verdict == health::breaker::verdict::defer) {
    out.ran = true;
    out.deferred = true;
    out.defer_due = circuit_due(st, clock::now());
    co_return out;
  }
  if (verdict == health::breaker::verdict::probe) {
    bool won = true;
    if (deps_.breakers != nullptr) {
      const auto lease = options_.http.total_timeout + 5s;
      auto take_lease = [this, &ep, lease] {
        return deps_.breakers->try_probe_lease(ep.id, instance_id_, lease, clock::now());
      };
      auto r = co_await offload(take_lease);
      won = r && r->won;  // Redis down: nobody can tell who probes, so nobody does
      if (r && !r->won && r->open_until) st.circuit.adopt_open(*r->open_until);
    }
    if (!won) {
      st.circuit.probe_abandoned();
      out.ran = true;
      out.deferred = true;
      out.defer_due = circuit_due(st, clock::now());
      co_return out;
    }
    probe = true;
    log::info("circuit half-open: probing", {{"endpoint", ep.id}, {"event", meta.id}});
  }

  lane& endpoint_lane = st.slots;
  const auto deadline = std::chrono::steady_clock::now() + options_.endpoint_queue_timeout;
  const lane::admit admitted = co_await endpoint_lane.acquire(k, deadline);
  if (admitted != lane::admit::granted && probe) st.circuit.probe_abandoned();
  if (admitted == lane::admit::cancelled) co_return out;
  if (admitted == lane::admit::deferred) {
    out.ran = true;
    out.deferred = true;
    out.defer_due = clock::now() + deps_.schedule.next_delay(1).value_or(5s);
    co_return out;
  }
  lane_permit endpoint_permit(&endpoint_lane, k);
  // The circuit may have opened while this one queued for the slot.
  if (!probe && st.circuit.current(clock::now()) != health::breaker::state::closed) {
    out.ran = true;
    out.deferred = true;
    out.defer_due = circuit_due(st, clock::now());
    co_return out;
  }
  // From here a probe always ends in a report, or is abandoned.
  struct probe_guard {
    health::breaker& b;
    bool armed;
    ~probe_guard() {
      if (armed) b.probe_abandoned();
    }
  } abandon_probe{st.circuit, probe};
  // The endpoint's pace: its adaptive and fixed rates, and any Retry-After pause.
  st.pace.set_fixed_rate(static_cast<double>(ep.rate_limit_per_second));
  const auto paced_at = st.pace.reserve(std::chrono::steady_clock::now(),
                                        std::max<std::chrono::steady_clock::duration>(
                                            deadline - std::chrono::steady_clock::now(), 0s));
  if (!paced_at) {
    const auto pause = std::chrono::duration_cast<clock::duration>(
        st.pace.paused_until() - std::chrono::steady_clock::now());
    const auto delay = std::chrono::duration_cast<clock::duration>(
        deps_.schedule.next_delay(1).value_or(5s));
    out.ran = true;
    out.deferred = true;
    out.defer_due = clock::now() + std::max(delay, pause);
    co_return out;
  }
  if (*paced_at > std::chrono::steady_clock::now()) {
    asio::steady_timer pace_timer(io_, *paced_at);
    co_await pace_timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopping_) co_return out;
  }
  if (!co_await global_.acquire()) co_return out;
  semaphore_permit global_permit(&global_);
  if (stopping_) co_return out;

  auto now = clock::now();
  std::int64_t ts = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const std::vector<receiver::key> keys = signing_keys(ep, now);
  std::error_code ec;
  std::string signature = receiver::sign_all(keys, meta.id, ts, *meta.body, ec);
  if (keys.empty() || ec) {
    // A broken stored secret is the operator's to fix; retrying lets them.
    out.ran = true;
    out.result = outcome{outcome::action::retry, std::nullopt, "invalid_secret", false};
    out.error = "endpoint has no usable signing secret";
    co_return out;
  }

  http::request req;
  req.url = ep.url;
  req.body = meta.body;
  req.headers = {{"content-type", "application/json"},
                 {std::string(receiver::header_id), meta.id},
                 {std::string(receiver::header_timestamp), std::to_string(ts)},
                 {std::string(receiver::header_signature), std::move(signature)},
                 {"tresse-event-type", meta.type}};
  in_flight_->add(1);
  auto r = co_await client_.post(std::move(req));
  in_flight_->add(-1);
  if (!r && r.error().kind == http::failure_kind::cancelled) co_return out;

  out.ran = true;
  out.result = classify_attempt(r);
  abandon_probe.armed = false;
  st.business_id = ep.business_id;
  st.recent.record(out.result.next == outcome::action::delivered,
                   r ? std::optional(std::chrono::duration_cast<std::chrono::milliseconds>(r->latency))
                     : std::nullopt);
  co_await report_to_breaker(ep, st, out.result);
  report_to_throttle(ep, st, out.result);
  std::chrono::milliseconds latency{};
  std::string snippet;
  if (r) {
    out.status = r->status;
    latency = std::chrono::duration_cast<std::chrono::milliseconds>(r->latency);
    latency_->observe(std::chrono::duration<double>(r->latency).count());
    snippet = r->body_snippet;
  } else {
    out.error = r.error().message;
  }
  log::debug("attempt", {{"event", meta.id},
                         {"endpoint", ep.id},
                         {"attempt", number},
                         {"status", out.status},
                         {"outcome", out.result.reason}});

  retry::attempt_record rec;
  rec.id = ids::time_ordered("att_", now);
  rec.event_id = meta.id;
  rec.event_type = meta.type;
  rec.endpoint_id = ep.id;
  rec.attempt = number;
  rec.at = now;
  rec.status = static_cast<int>(out.status);
  rec.succeeded = out.result.next == outcome::action::delivered;
  rec.error = describe(out);
  rec.latency = latency;
  rec.response_snippet = std::move(snippet);
  // A delivered attempt's log entry is written in the background: losing it when Redis is
  // down must not hold up delivery. A failed one is awaited, so that the retry or dead letter
  // that follows reads a history that includes it.
  // The first attempt also keeps the event's bytes, for a later manual retry.
  std::shared_ptr<const std::string> body = number == 1 ? meta.body : nullptr;
  if (rec.succeeded) {
    asio::post(blocking_, [this, rec = std::move(rec), body] {
      if (auto st = deps_.retries.log_attempt(rec, body ? *body : std::string_view{}); !st) {
        log::warn("attempt log write failed", {{"endpoint", rec.endpoint_id}, {"error", st.error().message}});
      }
    });
  } else {
    auto write = [this, &rec, &body] {
      return deps_.retries.log_attempt(rec, body ? *body : std::string_view{});
    };
    if (auto st = co_await offload(write); !st) {
      log::warn("attempt log write failed", {{"endpoint", rec.endpoint_id}, {"error", st.error().message}});
    }
  }
  co_return out;
}

asio::awaitable<bool> engine::disable_endpoint(const registry::endpoint& ep, const outcome& o) {
  disabled_->inc();
  log::warn("endpoint disabled", {{"endpoint", ep.id}, {"business", ep.business_id}, {"reason", o.reason}});
  // Several attempts in flight may all be told to disable: the ops event goes out once, by
  // whoever finds the endpoint still enabled.
  bool was_enabled = false;
  std::function<status()> disable = [this, &ep, &o, &was_enabled]() -> status {
    auto r = deps_.registry.disable_if_enabled(ep.id, o.reason);
    if (!r) return std::unexpected(r.error());
    was_enabled = *r;
    return {};
  };
  bool ok = co_await durably("disable endpoint", disable);
  if (ok && was_enabled) {
    kafka::ops_event e{.type = kafka::ops_event_type::disabled,
                       .business_id = ep.business_id,
                       .endpoint_id = ep.id,
                       .url = ep.url,
                       .reason = o.reason};
    asio::post(blocking_, [this, e = std::move(e)] { publish_ops(e); });
  }
  co_return ok;
}

void engine::publish_ops(const kafka::ops_event& e) {
  if (deps_.ops == nullptr) return;
  if (auto st = deps_.ops->publish(e); !st) {
    log::warn("ops event not published",
              {{"type", kafka::to_string(e.type)}, {"endpoint", e.endpoint_id},
               {"error", st.error().message}});
  }
}

void engine::note_failure(const std::string& endpoint_id) {
  auto streak = deps_.registry.record_failure_streak(endpoint_id);
  if (!streak || !streak->failing_since || options_.auto_disable_after.count() <= 0) return;
  const auto now = clock::now();
  if (now - *streak->failing_since < options_.auto_disable_after) return;
  // Not the cache: another failure (here or elsewhere) may have disabled it a moment ago, and
  // the event should go out once.
  auto ep = deps_.registry.get(endpoint_id);
  if (!ep || !*ep || !(*ep)->enabled) return;
  auto done = deps_.registry.disable_if_enabled(endpoint_id, "failing_continuously");
  if (!done || !*done) return;
  disabled_->inc();
  const auto& e = **ep;
  log::warn("endpoint disabled", {{"endpoint", e.id},
                                  {"business", e.business_id},
                                  {"reason", "failing_continuously"},
                                  {"failing_since", events::format_rfc3339(*streak->failing_since)}});
  publish_ops({.type = kafka::ops_event_type::disabled,
               .business_id = e.business_id,
               .endpoint_id = e.id,
               .url = e.url,
               .reason = "failing_continuously",
               .failing_since = streak->failing_since});
}

void engine::note_dead_letter(const std::string& endpoint_id, bool exhausted) {
  auto n = deps_.registry.record_dead_letter(endpoint_id, exhausted);
  // Exactly at the threshold: once per streak.
  if (!n || !exhausted || options_.warn_after_dead_letters <= 0 ||
      *n != options_.warn_after_dead_letters) {
    return;
  }
  auto ep = deps_.endpoints.find(endpoint_id);
  if (!ep) return;
  log::warn("endpoint failing", {{"endpoint", ep->id},
                                 {"business", ep->business_id},
                                 {"consecutive_dead_lettered", *n}});
  publish_ops({.type = kafka::ops_event_type::failing,
               .business_id = ep->business_id,
               .endpoint_id = ep->id,
               .url = ep->url,
               .reason = "retries_exhausted",
               .consecutive_dead_lettered = *n});
}

std::string engine::describe(const attempt_result& r) {
  return r.error.empty() ? r.result.reason : r.result.reason + ": " + r.error;
}

retry::task engine::task_of(const event_meta& meta, const std::string& endpoint_id, int attempts,
                            std::string last_error) {
  retry::task t;
  t.event_id = meta.id;
  t.endpoint_id = endpoint_id;
  t.business_id = meta.business_id;
  t.event_type = meta.type;
  t.body = *meta.body;
  t.attempts = attempts;
  t.first_attempt_at = clock::now();
  t.last_error = std::move(last_error);
  t.source = meta.source;
  return t;
}

engine::event_meta engine::meta_of(const retry::task& t) {
  event_meta meta;
  meta.id = t.event_id;
  meta.type = t.event_type;
  meta.business_id = t.business_id;
  meta.body = std::make_shared<const std::string>(t.body);
  meta.source = t.source;
  return meta;
}

asio::awaitable<bool> engine::settle(const registry::endpoint& ep, const outcome& o) {
  if (o.next == outcome::action::disable_endpoint) co_return co_await disable_endpoint(ep, o);
  delivered_->inc();
  asio::post(blocking_, [this, id = ep.id] { (void)deps_.registry.record_success(id); });
  co_return true;
}

asio::awaitable<void> engine::first_delivery(std::shared_ptr<const event_meta> meta,
                                             std::shared_ptr<const registry::endpoint> ep,
                                             std::shared_ptr<fanout> fan) {
  active_guard active(active_);
  auto res = co_await attempt(*meta, *ep, 1, lane::kind::first);
  if (!res.ran) co_return;  // shutdown: no hand-off, Kafka redelivers
  bool handed_off = false;
  if (res.deferred) {
    // No request made: the schedule still owes it every attempt.
    retry::task task = task_of(*meta, ep->id, 0, "deferred");
    handed_off = co_await defer(task, res.defer_due, false);
  } else if (res.result.next != outcome::action::retry) {
    handed_off = co_await settle(*ep, res.result);
  } else {
    retry::task task = task_of(*meta, ep->id, 1, describe(res));
    handed_off = co_await retry_or_dead_letter(std::move(task), res.result, false) !=
                 handoff::interrupted;
  }
  if (handed_off) fan->one_done();
}

asio::awaitable<std::optional<bool>> engine::schedule_task(retry::task& task,
                                                          clock::time_point due, bool claimed) {
  bool gone = false;
  std::function<status()> store = [this, &task, due, claimed, &gone]() -> status {
    if (!claimed) return deps_.retries.schedule(task, due);
    auto r = deps_.retries.reschedule(task, due);
    if (!r) return std::unexpected(r.error());
    gone = !*r;
    return {};
  };
  bool ok = co_await durably("schedule delivery", store);
  if (!ok) co_return std::nullopt;
  co_return !gone;
}

asio::awaitable<bool> engine::defer(retry::task& task, clock::time_point due, bool claimed) {
  auto stored = co_await schedule_task(task, due, claimed);
  if (stored && *stored) deferred_->inc();
  co_return stored.has_value();
}

asio::awaitable<engine::handoff> engine::retry_or_dead_letter(retry::task task,
                                                               const outcome& o, bool claimed) {
  asio::post(blocking_, [this, id = task.endpoint_id] { note_failure(id); });
  std::optional<std::chrono::milliseconds> hint;
  if (o.retry_after) hint = *o.retry_after;
  auto delay = deps_.schedule.next_delay(task.attempts, hint);
  if (delay) {
    auto due = clock::now() + *delay;
    auto stored = co_await schedule_task(task, due, claimed);
    if (!stored) co_return handoff::interrupted;
    if (!*stored) co_return handoff::gone;  // another instance finished it after our lease ran out
    scheduled_->inc();
    co_return handoff::scheduled;
  }
  const event_meta meta = meta_of(task);
  bool ok = co_await dead_letter("retries_exhausted", meta, task.endpoint_id, task.attempts,
                                 task.last_error);
  co_return ok ? handoff::dead_lettered : handoff::interrupted;
}

asio::awaitable<bool> engine::dead_letter(std::string_view reason, const event_meta& meta,
                                          const std::string& endpoint_id, int attempts,
                                          const std::string& last_error) {
  auto read_history = [this, &meta, &endpoint_id] {
    return deps_.retries.attempts_for_event(endpoint_id, meta.id);
  };
  auto history = co_await offload(read_history);
  kafka::dead_letter dl;
  dl.reason = std::string(reason);
  if (!last_error.empty()) dl.reason += " (last: " + last_error + ")";
  dl.original = *meta.body;
  dl.business_id = meta.business_id;
  dl.endpoint_id = endpoint_id;
  dl.source = meta.source;
  if (history) {
    for (const auto& a : *history) dl.attempts.push_back(retry::to_json(a));
  }
  std::function<status()> produce = [this, &dl] { return deps_.dead_letters.produce_and_wait(dl); };
  bool ok = co_await durably("dead-letter delivery", produce);
  if (ok) {
    dead_lettered_->inc();
    const bool exhausted = reason == "retries_exhausted";
    asio::post(blocking_, [this, endpoint_id, exhausted] { note_dead_letter(endpoint_id, exhausted); });
    log::warn("delivery dead-lettered",
              {{"event", meta.id}, {"endpoint", endpoint_id}, {"attempts", attempts}, {"reason", reason}});
  }
  co_return ok;
}

asio::awaitable<void> engine::poll_retries() {
  bool failing = false;  // log an outage once, not every poll
  while (!stopping_) {
    // Claimed retries waiting in lanes hold no global permit: bound them apart.
    std::size_t outstanding_room = options_.max_in_flight > retries_outstanding_
                                       ? options_.max_in_flight - retries_outstanding_
                                       : 0;
    std::size_t room =
        std::min({options_.retry_batch, global_.available(), outstanding_room});
    if (room > 0) {
      auto claim = [this, room] {
        return deps_.retries.claim_due(clock::now(), room, options_.retry_lease);
      };
      auto claimed = co_await offload(claim);
      if (!claimed) {
        if (!std::exchange(failing, true)) {
          log::warn("claiming due retries failed; retrying", {{"error", claimed.error().message}});
        }
      } else {
        if (std::exchange(failing, false)) log::info("claiming due retries works again");
        retries_outstanding_ += claimed->size();
        for (auto& t : *claimed) asio::co_spawn(io_, retry_delivery(std::move(t)), asio::detached);
        if (claimed->size() == room) continue;  // more may be due: no pause
      }
    }
    co_await sleep(options_.retry_poll_interval);
  }
}

asio::awaitable<void> engine::retry_delivery(retry::task task) {
  active_guard active(active_);
  struct outstanding_guard {  // counted up by poll_retries when claimed
    std::size_t& n;
    ~outstanding_guard() { --n; }
  } outstanding{retries_outstanding_};
  auto ep = deps_.endpoints.find(task.endpoint_id);
  const std::string task_id = task.id();
  std::function<status()> complete = [this, &task_id] { return deps_.retries.complete(task_id); };
  const event_meta meta = meta_of(task);
  if (!ep) {
    log::info("retry dropped: endpoint deleted", {{"event", task.event_id}, {"endpoint", task.endpoint_id}});
    co_await durably("complete retry", complete);
    co_return;
  }
  if (!ep->enabled) {
    if (co_await dead_letter("endpoint_disabled", meta, task.endpoint_id,
                             task.attempts, ep->disabled_reason)) {
      co_await durably("complete retry", complete);
    }
    co_return;
  }
  int number = task.attempts + 1;
  auto res = co_await attempt(meta, *ep, number, lane::kind::retry);
  if (!res.ran) co_return;  // shutdown: the claim's lease runs out and someone retries
  if (res.deferred) {
    co_await defer(task, res.defer_due, true);  // replaces the claim, attempts unchanged
    co_return;
  }
  if (res.result.next != outcome::action::retry) {
    if (co_await settle(*ep, res.result)) co_await durably("complete retry", complete);
    co_return;
  }
  task.attempts = number;
  task.last_error = describe(res);
  // Rescheduling replaces the claim; a dead letter still has to complete it.
  if (co_await retry_or_dead_letter(task, res.result, true) == handoff::dead_lettered) {
    co_await durably("complete retry", complete);
  }
}

}  // namespace tresse::dispatcher
