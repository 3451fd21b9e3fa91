// A shard's delivery stats (stats/accumulator.hpp): every attempt its deliveries make is added
// here where its outcome is known (one call, no Redis), and once a second what gathered leaves
// in one best-effort pipeline through the shard's redis_writer, as counters do: a flush lost
// to a Redis outage loses that second's counts, never a delivery, and stopping drops at most
// the last second's.
//
//   stats_recorder stats(shard_io.get_executor(), writer, ctx.stopping);
//   stats.start();
//   stats.add(res.record);   // after each attempt that made a request
#pragma once

#include <atomic>
#include <chrono>
#include <optional>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "delivery/redis_writer.hpp"
#include "retry/store.hpp"
#include "stats/accumulator.hpp"

namespace tresse::dispatcher {

class stats_recorder {
 public:
  stats_recorder(boost::asio::any_io_executor ex, redis_writer& writer,
                 const std::atomic<bool>& stopping,
                 std::chrono::milliseconds every = std::chrono::seconds(1))
      : ex_(std::move(ex)), writer_(writer), stopping_(stopping), every_(every) {}

  void start();  // the flush loop, on the shard's executor
  void add(const retry::attempt_record& a) {
    // Status 0: no response, so no latency to count (attempt_record).
    acc_.add(a.endpoint_id, a.at, a.succeeded,
             a.status != 0 ? std::optional(a.latency) : std::nullopt);
  }

 private:
  boost::asio::awaitable<void> flush_loop();

  boost::asio::any_io_executor ex_;
  redis_writer& writer_;
  const std::atomic<bool>& stopping_;
  std::chrono::milliseconds every_;
  stats::accumulator acc_;
};

}  // namespace tresse::dispatcher
