// The delivery path's Redis writer: every command a delivery issues (attempt log, counters,
// retry schedules and claims) goes through one of these, one per shard, over a non-blocking
// pipelined connection bound to the shard's io thread (redis/async_client.hpp). Commands that
// concurrent deliveries issue while a write is in progress leave together in the next write,
// so under load a batch of deliveries costs a few system calls, not a round trip each, and no
// thread ever blocks on Redis.
//
// Durable writes are what a Kafka commit depends on: write() and eval() retry until Redis has
// taken the commands (backing off from 100 ms to 5 s while it is down), so an outage delays
// hand-offs and commits and loses nothing. They give up only when the engine stops (the
// record then stays uncommitted and Kafka redelivers it).
//
//   redis_writer w(shard_io, redis_options, ctx.stopping);
//   const redis::request r = retries.complete_commands(task_id);   // request.hpp
//   if (!co_await w.write(r, "retry complete")) co_return;         // stopping
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "redis/async_client.hpp"
#include "redis/client.hpp"
#include "redis/request.hpp"

namespace tresse::dispatcher {

class redis_writer {
 public:
  redis_writer(boost::asio::io_context& io, const redis::options& opts,
               const std::atomic<bool>& stopping);

  // Until Redis ran the request without an error reply: its replies; nullopt only when
  // stopping first. `r` must outlive the co_await (a named local).
  boost::asio::awaitable<std::optional<std::vector<redis::reply>>> write(const redis::request& r,
                                                                        const char* what);
  // One try, for what may be lost (best-effort counters, a claim polled again soon).
  boost::asio::awaitable<redis::replies> try_once(const redis::request& r) {
    return redis::run(client_, r);
  }

 private:
  // After a failed try: logs the outage once, sleeps `delay` and doubles it. false: stopping.
  boost::asio::awaitable<bool> back_off(std::chrono::milliseconds& delay, const char* what,
                                        const error& e);
  void recovered(const char* what);

  redis::async_client client_;
  const std::atomic<bool>& stopping_;
  bool failing_ = false;  // shard thread only
};

}  // namespace tresse::dispatcher
