// A non-blocking Redis client on Asio with pipelining: every command sent while others are in
// flight goes out in the same write, and replies come back in order on one connection. Many
// concurrent requests then cost Redis (and us) a few system calls instead of a round trip each,
// which is what the Management API's hot path needs on a small machine.
//
//   redis::async_client redis(*redis::parse_url(url));
//   auto r = co_await redis.eval(script, {"key"}, {"arg"});   // resumes on the caller's executor
//   if (!r) { /* transient: connection lost or timed out; permanent: an error reply */ }
//
// One connection, connected lazily (AUTH and SELECT as configured) and again after a failure;
// a failure fails every command in flight (transient). With sentinels (redis+sentinel://) every
// connect asks them for the primary first, on a thread of the client's own (the query blocks),
// and checks ROLE; a READONLY reply (a demoted primary) drops the connection after its batch.
// A command not answered within options::command_timeout fails the connection. Scripts run by EVALSHA, falling back to EVAL
// on NOSCRIPT, like redis::client.
//
// Threads, two ways:
// - async_client(opts): the connection lives on a thread of its own, so its lifetime never
//   depends on the caller's io_context; calls may come from any thread (any executor), each
//   one a post to that thread and back.
// - async_client(opts, ioc): bound to an io_context that exactly one thread runs (a delivery
//   shard). Calls must come from that thread; they neither post nor lock, and a reply resumes
//   its caller inline. Commands issued while a write is in progress leave in the next one, so
//   a busy shard pays a few system calls per batch of deliveries, not per command.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "redis/client.hpp"
#include "redis/command_list.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::redis {

class cluster_client;

// With options::cluster_nodes set, every call goes through a redis::cluster_client (its own
// thread: a bound client then posts too), routed by slot.
class async_client {
 public:
  using completion = boost::asio::any_completion_handler<void(result<reply>)>;

  explicit async_client(options opts);
  // Bound to `ioc`, which one thread runs; the client must be destroyed on that thread, or
  // after it stopped running `ioc`.
  async_client(options opts, boost::asio::io_context& ioc);
  ~async_client();  // stop()
  async_client(const async_client&) = delete;
  async_client& operator=(const async_client&) = delete;

  // The arguments are read before the first suspension; pass named values (see engine.hpp on
  // g++ 12 and temporaries in co_await expressions).
  boost::asio::awaitable<result<reply>> command(const std::vector<std::string>& argv);
  boost::asio::awaitable<result<reply>> eval(const script& s,
                                             const std::vector<std::string>& keys,
                                             const std::vector<std::string>& args);
  // Every command in one write; the replies in order, error replies kept as kind::error (a
  // pipeline is not a transaction). An error result only when the connection failed.
  boost::asio::awaitable<result<std::vector<reply>>> pipeline(
      const std::vector<std::vector<std::string>>& commands);
  boost::asio::awaitable<result<std::vector<reply>>> pipeline(const command_list& commands);

  // Bumps whenever the connection fails or is dropped: two replies read with the same value
  // came over one connection (what WAIT needs: delivery/redis_writer.cpp). Bound clients only
  // (read on the shard's thread). In cluster mode: cluster_client::generation().
  std::uint64_t connection_generation() const;
  // In cluster mode, the primary serving `key` ("host:port", cluster_client::node_of); else "".
  bool clustered() const { return cluster_ != nullptr; }
  std::string node_of(std::string_view key) const;

  // Ends every call in flight ("client stopped"; in cluster mode destroyed with the cluster
  // client's thread) and stops the client's own threads (sentinel queries, cluster client). A
  // bound client: on its io_context's thread, or after that stopped (the completions are then
  // posted there, to run or be discarded). Once; the client takes no call after it.
  void stop();

 private:
  void start_sentinel_thread();
  struct state;
  // One command from views of its arguments (which must outlive the co_await).
  boost::asio::awaitable<result<reply>> command_of(const std::vector<std::string_view>& argv);
  using batch_completion = boost::asio::any_completion_handler<void(result<std::vector<reply>>)>;
  // Queues `count` encoded commands (copied before it returns); `done` runs (on its own
  // executor) with their replies.
  void submit(std::string_view encoded, std::size_t count, batch_completion done);

  std::shared_ptr<cluster_client> cluster_;          // set: cluster mode
  std::unique_ptr<boost::asio::io_context> own_io_;  // null when bound to a shard's
  std::shared_ptr<state> state_;
  std::thread thread_;
  std::unique_ptr<boost::asio::thread_pool> sentinel_thread_;  // with sentinels only
  bool stopped_ = false;
};

}  // namespace tresse::dispatcher::redis
