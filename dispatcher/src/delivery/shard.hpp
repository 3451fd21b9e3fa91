// A shard: one io thread and everything its endpoints use. Every endpoint belongs to exactly
// one shard (shard_map: the least loaded when first seen), and all of that endpoint's state
// lives there and is touched only by that thread, with no locks (Envoy's worker model,
// STYLE.md): its lane (slots, breaker, throttle, health window, parsed keys), the HTTP
// connection pool it uses, and the Redis writer its hand-offs go through. Work reaches a shard
// in batches, one post each.
//
//   shard s(ctx, 0, permits);
//   s.start();
//   s.deliver(std::move(batch));   // any thread
//   s.stop();                      // after the engine's drain
#pragma once

#include <cstddef>
#include <memory>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "delivery/async_semaphore.hpp"
#include "delivery/attempt_log.hpp"
#include "delivery/context.hpp"
#include "delivery/endpoint_lane.hpp"
#include "delivery/redis_writer.hpp"
#include "delivery/settle.hpp"
#include "delivery/stats_recorder.hpp"
#include "http/client.hpp"
#include "tresse/common/discardable_io_context.hpp"

namespace tresse::dispatcher {

class shard {
 public:
  // `permits`: this shard's share of delivery.max_in_flight. Throws std::invalid_argument
  // (start-up) on a bad allow-list entry or CA file.
  shard(context& ctx, std::size_t index, std::size_t permits);
  ~shard();
  shard(const shard&) = delete;
  shard& operator=(const shard&) = delete;

  void start();
  // After the engine's drain: halt() stops the thread and joins it (posts are dropped from
  // then on); discard_pending() then destroys what still waits there, once nothing else can
  // resume it (the blocking pool joined). stop() does both.
  void halt();
  void discard_pending();
  void stop();

  // Thread-safe: one post per batch.
  void deliver(std::vector<delivery> batch);
  // Claimed retries whose endpoints live here; `outstanding` is counted down as each ends.
  void retry(std::vector<retry::task> tasks, std::atomic<std::size_t>& outstanding);
  // The circuits open in the shared store as read at `read_at` (engine's breaker sync), those of
  // this shard's endpoints: a lane not among them was closed elsewhere.
  void adopt_circuits(std::vector<health::open_circuit> open,
                      std::chrono::steady_clock::time_point read_at);

  // This shard's endpoints as of now: computed on the shard's thread, waited for up to
  // `wait`; past it (a stopped or stuck shard), the last snapshot (refreshed every second).
  // Thread-safe; never call it from a shard thread.
  std::vector<health::endpoint_report> health(std::chrono::milliseconds wait) const;
  boost::asio::io_context& io() { return io_; }
  redis_writer& writer() { return writer_; }

 private:
  // `placed`: an ordered delivery that heads its resource's queue already (settle's on_head,
  // with its sequence number): attempted at once.
  boost::asio::awaitable<void> first_delivery(delivery d, bool placed = false);
  boost::asio::awaitable<void> first_admitted(delivery& d, endpoint_lane& lane, admission& admitted);
  // A claimed task: from the retry poll (`outstanding` counted down as it ends, lane kind retry)
  // or released as the next head of an ordered resource (nullptr, kind first: it has had no
  // attempt yet, and it is what keeps that resource flowing).
  boost::asio::awaitable<void> retry_delivery(retry::task task,
                                              std::atomic<std::size_t>* outstanding,
                                              lane::kind k);
  // settle's on_released: the next head, claimed for us, delivered at once.
  void deliver_released(retry::task task);
  // Every second the health snapshot; every 5 s, forgets idle lanes of deleted endpoints.
  boost::asio::awaitable<void> housekeeping();
  endpoint_lane& lane_of(const std::string& endpoint_id);
  template <class F>
  bool post_here(F&& f) const;  // any thread; false: dropped, the shard is halted
  std::vector<health::endpoint_report> reports() const;  // shard thread

  context& ctx_;
  std::size_t index_;
  mutable discardable_io_context io_{1};  // mutable: health() posts to it
  http::client client_;
  async_semaphore in_flight_;
  std::mt19937_64 rng_{std::random_device{}()};
  redis_writer writer_;
  attempt_log attempt_log_;
  settle settle_;
  stats_recorder stats_;  // every attempt's outcome, for GET /v1/webhooks/{id}/stats
  shard_env env_;
  std::unordered_map<std::string, std::unique_ptr<endpoint_lane>> lanes_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  mutable std::mutex post_mu_;
  bool halted_ = false;  // under post_mu_
  mutable std::mutex health_mu_;
  std::vector<health::endpoint_report> health_;  // under health_mu_
};

}  // namespace tresse::dispatcher
