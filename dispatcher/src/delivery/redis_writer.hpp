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
// With redis.wait_replicas = n > 0 (or auto, 1 while the primary has a replica connected) a
// durable write also ends with WAIT n wait_timeout in its pipeline, and write() returns only once n
// replicas have acknowledged it. Why: replication is asynchronous, so a write the primary took
// and then lost in a crash (before any replica had it) would be a scheduled retry whose Kafka
// offset is already committed: lost for good. Waiting narrows that to writes not yet
// acknowledged, whose offsets we do not commit (Kafka redelivers them). It is no guarantee
// against every loss: a replica may ack and still not be the one promoted, or lose the write in
// its own crash before persisting it; WAIT only means "in a replica's memory". Fewer acks than
// asked within the timeout counts as Redis unavailable: only the WAIT is sent again (the writes
// are on the primary already; sending an INCR again would count it twice), on the same
// connection, until acked or stopping; if the connection drops meanwhile, the whole write goes
// again, since the primary that took it may be gone.
//
//   redis_writer w(shard_io, redis_options, ctx.stopping);
//   const redis::request r = retries.complete_commands(task_id);   // request.hpp
//   if (!co_await w.write(r, "retry complete")) co_return;         // stopping
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
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
  // The same for an operation of several round trips (`op` a named local, as `r`).
  template <class T>
  boost::asio::awaitable<result<T>> try_once(redis::operation<T>& op) {
    return redis::run(client_, op);
  }
  // At the shard's stop, its thread halted: the client's calls in flight end, its own threads
  // stop (async_client::stop).
  void stop() { client_.stop(); }

 private:
  // After a failed try: logs the outage once, sleeps `delay` and doubles it. false: stopping.
  boost::asio::awaitable<bool> back_off(std::chrono::milliseconds& delay, const char* what,
                                        const error& e);
  void recovered(const char* what);

  enum class ack { acked, connection_lost, stopping };
  // The n of WAIT n for the next write: redis.wait_replicas, or with auto 1 while the primary
  // has a replica (ROLE, asked again on a new connection and every role_max_age), asked of the
  // primary that takes `r`; -1 while that primary's ROLE is unanswered on this connection
  // (then nothing is sent: see write).
  boost::asio::awaitable<int> replicas_to_wait_for(const redis::request& r);
  struct primary_role;
  // Asks ROLE of the primary that takes `r`; `known` is role_of(r), updated on an answer.
  boost::asio::awaitable<void> ask_role(const redis::request& r, primary_role& known);
  // After write `r` whose pipeline ended with WAIT `wanted` (`first` its reply), on connection
  // `connection`: sends WAIT again (to r's primary) until `wanted` replicas acked, the
  // connection changed, or stopping.
  boost::asio::awaitable<ack> await_replicas(redis::reply first, const redis::request& r,
                                             int wanted, std::uint64_t connection,
                                             const char* what);
  // `argv` behind a read of r's key: see redis::routing_key.
  static redis::command_list beside(const redis::request& r,
                                    std::initializer_list<std::string_view> argv);

  static constexpr std::chrono::seconds role_max_age{2};

  redis::async_client client_;
  const std::atomic<bool>& stopping_;
  const int wait_replicas_;  // or redis::options::wait_auto
  const std::string wait_timeout_;  // ms
  // Shard thread only:
  bool failing_ = false;
  bool unacked_ = false;  // replicas behind, logged once
  // What ROLE said of a primary: one entry, or on a Redis Cluster one per primary ("host:port").
  struct primary_role {
    bool asking = false;
    std::size_t replicas = 1;  // the last ROLE's answer
    std::uint64_t connection = ~std::uint64_t{0};
    std::chrono::steady_clock::time_point asked{};
  };
  primary_role& role_of(const redis::request& r);  // stable: a std::map's node
  std::map<std::string, primary_role> roles_;
};

}  // namespace tresse::dispatcher
