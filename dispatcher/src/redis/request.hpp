// A store operation written once, carried by either Redis client: the blocking redis::client
// (the ops CLI, the delivery engine, tests) or the non-blocking redis::async_client (the
// Management API, whose threads must never wait on Redis).
//
// An operation is the round trip to make next (`next`: a script call or a pipeline of commands)
// and what to do with its replies (`step`): either the outcome, or nullopt after setting `next`
// to the following round trip (a read-then-write such as a compare-and-set). The key layout and
// the scripts stay in the store that builds the operation; a caller only picks the client.
//
//   redis::operation<std::optional<endpoint>> op = endpoints.get_op("we_1");
//   auto a = redis::run(*redis_client, op);              // blocks
//   auto b = co_await redis::run(async_client, op);      // does not (op: a named local)
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "redis/async_client.hpp"
#include "redis/client.hpp"
#include "redis/command_list.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::redis {

// One round trip.
struct request {
  const script* lua = nullptr;                     // set: a script call (EVALSHA, EVAL on NOSCRIPT)
  std::vector<std::string> keys;                   // its KEYS
  std::vector<std::string> args;                   // its ARGV
  command_list commands;                           // lua unset: these, pipelined
};

// A request's replies: the script's one reply (an error reply as an error), or one per command
// of a pipeline (error replies kept as kind::error: see first_error). An error result when the
// connection failed.
using replies = result<std::vector<reply>>;

// The first error reply among a pipeline's replies, as an error (redis::error_of).
status first_error(const std::vector<reply>& rs);
// A pipeline's outcome as one status: the connection's failure, else its first error reply.
status status_of(const replies& r);

// A request of one command, and its one reply (an error reply as an error).
request single_command(std::vector<std::string> argv);
result<reply> single_reply(replies r);

// The key a Redis Cluster routes `r`'s end by: its script's first key, or the key of its last
// command that has one (redis/cluster_client.hpp; a keyless command after it, such as WAIT, goes
// with it); empty when it has none. Commands sent apart from `r` that must
// reach the same primary (WAIT, ROLE) go behind a read of this key (delivery/redis_writer.cpp).
std::string routing_key(const request& r);

replies run(client& c, const request& r);
// `r` must outlive the co_await (a named value: see async_client.hpp).
boost::asio::awaitable<replies> run(async_client& c, const request& r);

// Runs `r` and then `tail` in one pipeline on one connection (a script call as EVALSHA, EVAL on
// NOSCRIPT): the replies of r's commands (or its script's one reply, an error reply kept as
// kind::error), then the tail's. An error result when the connection failed. Both `r` and
// `tail` must outlive the co_await. For WAIT after a hand-off (delivery/redis_writer.hpp).
boost::asio::awaitable<replies> run_then(async_client& c, const request& r,
                                         const command_list& tail);

template <class T>
struct operation {
  using step_fn = std::function<std::optional<result<T>>(operation&, replies)>;

  request next;
  step_fn step;
  std::optional<result<T>> outcome;  // set: known without a round trip (e.g. invalid input)

  static operation one(request r, step_fn s) { return {std::move(r), std::move(s), std::nullopt}; }
  static operation done(result<T> r) { return {{}, {}, std::move(r)}; }
};

template <class T>
result<T> run(client& c, operation<T>& op) {
  while (!op.outcome) op.outcome = op.step(op, run(c, op.next));
  return std::move(*op.outcome);
}

template <class T>
boost::asio::awaitable<result<T>> run(async_client& c, operation<T>& op) {
  replies got;
  // Assigned, not declared, in the loop (g++ 12 and co_await: see delivery/engine.hpp).
  while (!op.outcome) {
    got = co_await run(c, op.next);
    op.outcome = op.step(op, std::move(got));
  }
  co_return std::move(*op.outcome);
}

}  // namespace tresse::dispatcher::redis
