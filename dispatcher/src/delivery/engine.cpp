#include "delivery/engine.hpp"

#include <algorithm>
#include <random>
#include <thread>
#include <unordered_set>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "delivery/ordered_queue.hpp"
#include "tresse/common/log.hpp"

namespace tresse::dispatcher {
namespace asio = boost::asio;
using namespace std::chrono_literals;
using clock = std::chrono::system_clock;

namespace {

engine_options resolved(engine_options o) {
  if (o.io_threads == 0) o.io_threads = std::max(1U, std::thread::hardware_concurrency());
  return o;
}

}  // namespace

engine::engine(engine_deps deps, engine_options options)
    : ctx_(deps, resolved(std::move(options))),
      intake_(ctx_.deps.endpoints, ctx_.options.max_event_bytes) {
  const std::size_t n = ctx_.options.io_threads;
  // delivery.max_in_flight is split over the shards (each at least 1).
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t permits =
        std::max<std::size_t>(1, ctx_.options.max_in_flight / n + (i < ctx_.options.max_in_flight % n));
    shards_.push_back(std::make_unique<shard>(ctx_, i, permits));
  }
  register_gauges();
}

engine::~engine() { stop(0ms); }

void engine::register_gauges() {
  auto& m = ctx_.deps.stats;
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

void engine::start(handed_off_fn handed_off) {
  handed_off_ = std::move(handed_off);
  for (auto& s : shards_) s->start();
  log::info("delivery shards started", {{"shards", shards_.size()}});
  // The engine's own loops live on shard 0.
  auto& io = shards_.front()->io();
  asio::co_spawn(io, poll_retries(), asio::detached);
  asio::co_spawn(io, recover_ordered_heads(), asio::detached);
  if (ctx_.deps.breakers != nullptr) asio::co_spawn(io, sync_breakers(), asio::detached);
  if (ctx_.deps.reports != nullptr) asio::co_spawn(io, publish_health(), asio::detached);
}

std::vector<health::endpoint_report> engine::health() const {
  std::lock_guard lock(health_mu_);
  const auto now = std::chrono::steady_clock::now();
  if (health_at_ != std::chrono::steady_clock::time_point{} && now - health_at_ < 100ms) {
    return health_;
  }
  std::vector<health::endpoint_report> all;
  for (const auto& s : shards_) {
    auto part = s->health(500ms);
    all.insert(all.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
  }
  health_ = all;
  health_at_ = std::chrono::steady_clock::now();
  return all;
}

void engine::record_done(std::int32_t partition, std::int64_t offset) {
  pending_.fetch_sub(1);
  if (handed_off_) handed_off_(partition, offset);
}

void engine::submit(std::vector<kafka::message> records) {
  const std::size_t n = shards_.size();
  std::vector<std::vector<delivery>> by_shard(n);
  for (auto& record : records) {
    pending_.fetch_add(1);
    const auto partition = record.partition;
    const auto offset = record.offset;
    auto taken = intake_.take(record);
    if (taken.poison) {
      ctx_.counters.poison->inc();
      ctx_.active.fetch_add(1);  // until the coroutine holds it
      asio::co_spawn(shards_.front()->io(),
                     dead_letter_poison(std::move(record), std::move(*taken.poison)),
                     asio::detached);
      continue;
    }
    if (taken.recipients.empty()) {
      ctx_.counters.unmatched->inc();
      record_done(partition, offset);
      continue;
    }
    auto fan = std::make_shared<fanout>();
    fan->remaining = taken.recipients.size();
    fan->done = [this, partition, offset] { record_done(partition, offset); };
    for (auto& ep : taken.recipients) {
      const std::size_t i = ctx_.owners.of(ep->id);
      by_shard[i].push_back({taken.meta, std::move(ep), fan});
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (by_shard[i].empty()) continue;
    ctx_.active.fetch_add(by_shard[i].size());  // until the delivery coroutines hold it
    shards_[i]->deliver(std::move(by_shard[i]));
  }
}

asio::awaitable<void> engine::dead_letter_poison(kafka::message record, std::string reason) {
  active_guard active(ctx_.active);
  ctx_.active.fetch_sub(1);  // the guard holds it now
  kafka::dead_letter dl;
  dl.reason = std::move(reason);
  dl.original = record.value;  // a view: `record` lives as long as this coroutine
  dl.source = {record.topic, record.partition, record.offset, record.key};
  std::function<status()> produce = [this, &dl] { return ctx_.deps.dead_letters.produce_and_wait(dl); };
  if (co_await durably(ctx_, "dead-letter poison record", produce)) {
    record_done(record.partition, record.offset);
  }  // else: shutdown; the offset stays uncommitted
}

void engine::stop(std::chrono::milliseconds drain) {
  if (stopped_.exchange(true)) return;
  ctx_.stopping = true;
  auto deadline = std::chrono::steady_clock::now() + drain;
  while (ctx_.active.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  if (ctx_.active.load() > 0) {
    log::warn("drain deadline passed; abandoning deliveries in flight (Kafka redelivers them)",
              {{"in_flight", ctx_.active.load()}});
  }
  // Halted first, then the blocking pool joined: a blocking call finishing now resumes its
  // coroutine by a post to a halted shard, and must not race discard_pending()'s emptying.
  for (auto& s : shards_) s->halt();
  ctx_.blocking.join();
  for (auto& s : shards_) s->discard_pending();
}

asio::awaitable<void> engine::poll_retries() {
  redis_writer& redis = shards_.front()->writer();
  bool failing = false;  // log an outage once, not every poll
  // Assigned in the loop, never declared there from a co_await (g++ 12, see context.hpp).
  redis::operation<std::vector<retry::task>> claim;
  result<std::vector<retry::task>> claimed;
  // The schedule's shards in turn, starting at a random one so that instances do not all
  // claim from shard 0 first. A round looks at every shard once, then pauses as one claim used
  // to, unless a shard gave a full batch (more may be due there: another round at once).
  const std::size_t shard_count = ctx_.deps.retries.shards();
  std::size_t shard = std::random_device{}() % shard_count;
  std::size_t looked = 0;  // shards looked at in this round
  bool more = false;       // one of them gave a full batch
  while (!ctx_.stopping) {
    // Claimed retries waiting in lanes hold no in-flight permit: bound them apart.
    const std::size_t outstanding = retries_outstanding_.load();
    const std::size_t room =
        std::min(ctx_.options.retry_batch,
                 ctx_.options.max_in_flight > outstanding ? ctx_.options.max_in_flight - outstanding : 0);
    if (room > 0) {
      claim = retry::store::claim_op(shard, clock::now(), room, ctx_.options.retry_lease);
      shard = (shard + 1) % shard_count;
      claimed = co_await redis.try_once(claim);
      if (!claimed) {
        if (!std::exchange(failing, true)) {
          log::warn("claiming due retries failed; retrying", {{"error", claimed.error().message}});
        }
      } else {
        if (std::exchange(failing, false)) log::info("claiming due retries works again");
        auto tasks = std::move(*claimed);
        const std::size_t got = tasks.size();
        std::vector<std::vector<retry::task>> by_shard(shards_.size());
        for (auto& t : tasks) by_shard[ctx_.owners.of(t.endpoint_id)].push_back(std::move(t));
        retries_outstanding_.fetch_add(got);
        for (std::size_t i = 0; i < shards_.size(); ++i) {
          if (by_shard[i].empty()) continue;
          ctx_.active.fetch_add(by_shard[i].size());
          shards_[i]->retry(std::move(by_shard[i]), retries_outstanding_);
        }
        more = more || got == room;
        if (++looked < shard_count) continue;
        looked = 0;
        if (std::exchange(more, false)) continue;
      }
    }
    looked = 0;
    more = false;
    co_await sleep_for(ctx_.options.retry_poll_interval);
  }
}

asio::awaitable<void> engine::recover_ordered_heads() {
  redis_writer& redis = shards_.front()->writer();
  const auto every = std::clamp<std::chrono::milliseconds>(ctx_.options.retry_lease / 4, 1s, 15s);
  // Holders walked per shard and pass, at most: the next pass takes the rest.
  constexpr int per_shard = 8;
  bool failing = false;
  // Assigned in the loop, never declared there from a co_await (g++ 12, see context.hpp).
  redis::operation<ordered::recovered> walk;
  result<ordered::recovered> got;
  while (!ctx_.stopping) {
    co_await sleep_for(every);
    for (std::size_t n = 0; n < ctx_.deps.retries.shards() && !ctx_.stopping; ++n) {
      for (int i = 0; i < per_shard && !ctx_.stopping; ++i) {
        walk = ordered::recover_op(n, clock::now(), ctx_.options.retry_lease,
                                   ctx_.deps.retries.task_ttl());
        got = co_await redis.try_once(walk);
        if (!got) {
          if (!std::exchange(failing, true)) {
            log::warn("walking lapsed ordered holders failed; retrying",
                      {{"error", got.error().message}});
          }
          break;
        }
        failing = false;
        if (!got->walked) break;
        if (got->heads > 0) {
          log::info("ordered heads of a lapsed instance made due",
                    {{"retry_shard", n}, {"heads", got->heads}});
        }
      }
    }
  }
}

asio::awaitable<void> engine::sync_breakers() {
  while (!ctx_.stopping) {
    co_await sleep_for(500ms);
    if (ctx_.stopping) break;
    const auto started = std::chrono::steady_clock::now();
    // A read every 500 ms, not per delivery: the blocking pool is fine for it.
    auto read = [this] { return ctx_.deps.breakers->open_circuits(); };
    auto circuits = co_await offload(ctx_, read);
    if (!circuits) continue;  // Redis down: each instance goes on with what it knows
    const bool loaded = ctx_.deps.endpoints.version() >= 0;
    std::vector<std::vector<health::open_circuit>> by_shard(shards_.size());
    std::vector<std::string> stale;
    for (auto& c : *circuits) {
      if (loaded && ctx_.deps.endpoints.find(c.endpoint_id) == nullptr) {
        stale.push_back(c.endpoint_id);  // the endpoint was deleted
        continue;
      }
      by_shard[ctx_.owners.of(c.endpoint_id)].push_back(std::move(c));
    }
    // Every shard, those with none open too: a lane whose circuit left the store closes.
    for (std::size_t i = 0; i < shards_.size(); ++i) {
      shards_[i]->adopt_circuits(std::move(by_shard[i]), started);
    }
    for (const auto& id : stale) {
      auto drop = [this, &id] { return ctx_.deps.breakers->publish_closed(id); };
      (void)co_await offload(ctx_, drop);
    }
  }
}

asio::awaitable<void> engine::publish_health() {
  while (!ctx_.stopping) {
    co_await sleep_for(2s);
    if (ctx_.stopping) break;
    // On the blocking pool: health() waits for every shard, this one included.
    auto publish = [this] { return ctx_.deps.reports->publish(ctx_.instance_id, health()); };
    (void)co_await offload(ctx_, publish);  // best effort: the CLI shows what it finds
  }
}

}  // namespace tresse::dispatcher
