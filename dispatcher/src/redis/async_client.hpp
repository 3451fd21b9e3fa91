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
// a failure fails every command in flight (transient). A command not answered within
// options::command_timeout fails the connection. Thread-safe: calls may come from any thread
// (any executor); the connection lives on a thread of its own, so its lifetime never depends on
// the caller's io_context. Scripts run by EVALSHA, falling back to EVAL on
// NOSCRIPT, like redis::client.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "redis/client.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::redis {

class async_client {
 public:
  using completion = boost::asio::any_completion_handler<void(result<reply>)>;

  explicit async_client(options opts);
  ~async_client();
  async_client(const async_client&) = delete;
  async_client& operator=(const async_client&) = delete;

  // The arguments are read before the first suspension; pass named values (see engine.hpp on
  // g++ 12 and temporaries in co_await expressions).
  boost::asio::awaitable<result<reply>> command(const std::vector<std::string>& argv);
  boost::asio::awaitable<result<reply>> eval(const script& s,
                                             const std::vector<std::string>& keys,
                                             const std::vector<std::string>& args);

 private:
  struct state;
  // Queues one encoded command; `done` runs (on its own executor) with the reply.
  void submit(std::string encoded, completion done);

  boost::asio::io_context io_;
  std::shared_ptr<state> state_;
  std::thread thread_;
};

}  // namespace tresse::dispatcher::redis
