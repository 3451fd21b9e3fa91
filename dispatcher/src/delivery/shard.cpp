#include "delivery/shard.hpp"

#include <functional>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include "tresse/common/log.hpp"
#include "tresse/common/thread_name.hpp"

namespace tresse::dispatcher {
namespace asio = boost::asio;
using namespace std::chrono_literals;
using clock = std::chrono::system_clock;

shard::shard(context& ctx, std::size_t index, std::size_t permits)
    : ctx_(ctx),
      index_(index),
      client_(io_, ctx.options.http, ctx.tls),
      in_flight_(io_.get_executor(), permits),
      writer_(io_, ctx.options.redis, ctx.stopping),
      attempt_log_(io_.get_executor(), writer_, ctx.deps.retries),
      settle_(io_.get_executor(), ctx, writer_, attempt_log_,
              [this](retry::task t) { deliver_released(std::move(t)); },
              [this](delivery d) {
                asio::co_spawn(io_, first_delivery(std::move(d), true), asio::detached);
              }),
      stats_(io_.get_executor(), writer_, ctx.stopping),
      env_{ctx, client_, in_flight_, rng_} {}

shard::~shard() { stop(); }

void shard::start() {
  work_.emplace(io_.get_executor());
  thread_ = std::thread([this] {
    name_this_thread("shard-" + std::to_string(index_));
    io_.run();
  });
  asio::co_spawn(io_, housekeeping(), asio::detached);
  stats_.start();
}

void shard::halt() {
  {
    std::lock_guard lock(post_mu_);
    if (halted_) return;
    halted_ = true;
  }
  work_.reset();
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

void shard::discard_pending() {
  // What still waits (an attempt past the drain, a lane's waiters, Redis writes, the timers)
  // is destroyed here, unrun: none of it hands off, so Kafka redelivers those records and
  // claims lapse. Its frames hold lanes, the client and settle, which ~io_context (the first
  // member, so the last destroyed) would otherwise reach only after they were gone. The Redis
  // client first: its calls in flight hold frames too, and its own threads (sentinel, cluster)
  // post here.
  writer_.stop();
  io_.discard_pending();
}

void shard::stop() {
  halt();
  discard_pending();
}

template <class F>
bool shard::post_here(F&& f) const {
  // Under the lock: nothing is posted once halted, while discard_pending() empties the queue.
  std::lock_guard lock(post_mu_);
  if (halted_) return false;
  asio::post(io_, std::forward<F>(f));
  return true;
}

void shard::deliver(std::vector<delivery> batch) {
  post_here([this, batch = std::move(batch)]() mutable {
    for (auto& d : batch) asio::co_spawn(io_, first_delivery(std::move(d)), asio::detached);
    ctx_.active.fetch_sub(batch.size());  // counted by the engine until the coroutines hold it
  });
}

void shard::retry(std::vector<retry::task> tasks, std::atomic<std::size_t>& outstanding) {
  post_here([this, tasks = std::move(tasks), &outstanding]() mutable {
    for (auto& t : tasks) {
      asio::co_spawn(io_, retry_delivery(std::move(t), &outstanding, lane::kind::retry),
                     asio::detached);
    }
    ctx_.active.fetch_sub(tasks.size());
  });
}

void shard::adopt_circuits(std::vector<health::open_circuit> open,
                           std::chrono::steady_clock::time_point read_at) {
  post_here([this, open = std::move(open), read_at] {
    const auto now = clock::now();
    std::unordered_set<std::string_view> shared;
    for (const auto& c : open) {
      shared.insert(c.endpoint_id);
      lane_of(c.endpoint_id).adopt_shared_open(c.open_until, read_at);
    }
    for (auto& [id, l] : lanes_) {
      // Closed elsewhere (a successful probe), unless our own open is newer than this read.
      if (shared.contains(id)) continue;
      if (l->adopt_shared_closed(read_at, now)) {
        log::info("circuit closed by another instance", {{"endpoint", id}});
      }
    }
  });
}

std::vector<health::endpoint_report> shard::reports() const {
  const auto now = clock::now();
  std::vector<health::endpoint_report> out;
  out.reserve(lanes_.size());
  for (const auto& [id, l] : lanes_) out.push_back(l->report(id, now));
  return out;
}

std::vector<health::endpoint_report> shard::health(std::chrono::milliseconds wait) const {
  // Fresh, so that reports of several shards are of one moment (a snapshot a second old on one
  // shard and new on another would show one endpoint's attempts and not the other's).
  auto done = std::make_shared<std::promise<std::vector<health::endpoint_report>>>();
  auto fresh = done->get_future();
  const bool posted = post_here([this, done] { done->set_value(reports()); });
  if (posted && fresh.wait_for(wait) == std::future_status::ready) return fresh.get();
  std::lock_guard lock(health_mu_);
  return health_;
}

endpoint_lane& shard::lane_of(const std::string& endpoint_id) {
  auto& slot = lanes_[endpoint_id];
  if (!slot) slot = std::make_unique<endpoint_lane>(io_.get_executor(), ctx_.options);
  return *slot;
}

asio::awaitable<void> shard::housekeeping() {
  for (int tick = 1; !ctx_.stopping; ++tick) {
    co_await sleep_for(1s);
    auto snapshot = reports();
    {
      std::lock_guard lock(health_mu_);
      health_ = std::move(snapshot);
    }
    settle_.enter_stale_holds();  // held a queue timeout: waits in Redis, handed off
    if (tick % 5 != 0) continue;
    // Bounds lanes_ by the registry: a deleted endpoint's lane goes once it is idle.
    std::erase_if(lanes_, [this](const auto& kv) {
      if (!kv.second->prunable() || ctx_.deps.endpoints.find(kv.first) != nullptr) return false;
      ctx_.owners.forget(kv.first);
      return true;
    });
  }
}

namespace {

// Asked of the lane before the hand-off: settle touches no endpoint state.
bool resets_streak(endpoint_lane& lane, const attempt_result& res) {
  return res.ran && !res.deferred && res.result.next == outcome::action::delivered &&
         lane.take_streak_reset(std::chrono::steady_clock::now());
}

}  // namespace

asio::awaitable<void> shard::first_delivery(delivery d, bool placed) {
  // Split in two so that what waits for a slot is small (a burst queues thousands): this
  // frame and the admission's; the attempt's and the hand-off's state come once admitted.
  active_guard active(ctx_.active);
  if (!placed && d.endpoint->order == registry::ordering::per_resource &&
      !d.meta->resource.empty()) {
    if (settle_.hold_ordered(d)) co_return;  // behind its resource's head in flight here
    const auto place = co_await settle_.enter_ordered(d);
    if (!place) co_return;  // stopping: no hand-off, Kafka redelivers
    if (place->where != ordered::state::head) {
      d.fan->one_done();  // waiting (or seen before): durably queued
      co_return;
    }
    d.sequence = place->sequence;
  }
  endpoint_lane& lane = lane_of(d.endpoint->id);
  admission admitted;
  if (!lane.try_admit(ctx_.options, lane::kind::first, admitted)) {  // no coroutine: most
    admitted = co_await lane.admit(env_, *d.endpoint, *d.meta, lane::kind::first);
  }
  co_await first_admitted(d, lane, admitted);
}

asio::awaitable<void> shard::first_admitted(delivery& d, endpoint_lane& lane,
                                            admission& admitted) {
  const int first_attempt = 1;
  auto res =
      co_await lane.attempt(env_, *d.meta, *d.endpoint, first_attempt, admitted, d.sequence);
  if (!res.ran) co_return;  // shutdown: no hand-off, Kafka redelivers
  if (!res.deferred) stats_.add(res.record);
  const bool reset_streak = resets_streak(lane, res);
  auto step = co_await settle_.first(*d.meta, *d.endpoint, reset_streak, res, d.fan->body_logged,
                                     d.sequence);
  if (step != settle::handoff::interrupted) d.fan->one_done();
}

void shard::deliver_released(retry::task task) {
  if (ctx_.stopping) {
    // Not ours to deliver any more: due now for whoever goes on (a rolling restart would
    // otherwise hold the resource for a lease and a walk). Counted in `active` from here, so
    // that the drain waits for it.
    ctx_.active.fetch_add(1);
    asio::co_spawn(io_, settle_.hand_back(std::move(task)), asio::detached);
    return;
  }
  asio::co_spawn(io_, retry_delivery(std::move(task), nullptr, lane::kind::first), asio::detached);
}

asio::awaitable<void> shard::retry_delivery(retry::task task,
                                            std::atomic<std::size_t>* outstanding, lane::kind k) {
  active_guard active(ctx_.active);
  struct outstanding_guard {  // counted up by the engine's retry poll when claimed
    std::atomic<std::size_t>* n;
    ~outstanding_guard() {
      if (n != nullptr) n->fetch_sub(1);
    }
  } counted{outstanding};
  auto ep = ctx_.deps.endpoints.find(task.endpoint_id);
  // A record without its body: an ordered event that waited, entered by a version that kept
  // bodies apart (ordered_queue.hpp). A deleted endpoint's task is only dropped (its purge
  // removed the body too).
  if (ep && task.body.empty()) {
    const auto found = co_await settle_.load_body(task);
    if (!found) co_return;  // stopping: its claim or holder lapses and someone retries
    if (!*found) {
      co_await settle_.lost_body(task);
      co_return;
    }
  }
  if (!ep || !ep->enabled) {
    co_await settle_.drop(task, ep.get());
    co_return;
  }
  endpoint_lane& lane = lane_of(ep->id);
  const event_meta meta = settle::meta_of(task);
  const int number = task.attempts + 1;
  admission admitted = co_await lane.admit(env_, *ep, meta, k);
  auto res = co_await lane.attempt(env_, meta, *ep, number, admitted, task.sequence);
  if (!res.ran) co_return;  // shutdown: its claim or holder lapses and someone retries
  if (!res.deferred) stats_.add(res.record);
  co_await settle_.retry(task, *ep, resets_streak(lane, res), res);
}

}  // namespace tresse::dispatcher
