// A Redis Cluster client over the non-blocking one (async_client.hpp): each command goes to the
// primary that serves its key's slot (cluster_slots.hpp), on one pipelined connection per
// primary, and redirections are followed.
//
//   redis::cluster_client redis(opts, {{"127.0.0.1", 7000}, {"127.0.0.1", 7001}});
//   const std::vector<std::string> get{"GET", "tresse:{we_1}:x"};
//   auto r = co_await redis.command(get);               // resumes on the caller's executor
//   auto rs = co_await redis.pipeline(commands);         // split by primary, replies in order
//
// Routing: the slot of a command's first key (argv[1]; for EVAL/EVALSHA the first of KEYS, for
// a keyless command or a script without keys any primary). A command whose keys are in
// different slots is refused by Redis (CROSSSLOT): redis/keys.hpp keeps every script's keys
// under one hash tag.
//
// The slot map is read with CLUSTER SLOTS from the seeds (then any known primary), lazily on
// the first call and again after a MOVED reply or a lost connection (a failover: the map then
// names the promoted replica). MOVED: the command goes again to the new owner. ASK (a slot
// being migrated): ASKING and the command go to the target once, and the map is kept. At most
// `max_redirects` hops per command; past them, or with no node reachable, the command fails as
// transient (like async_client while Redis is down), so callers retry as they do today.
//
// Threads: the client runs on a thread of its own (as async_client(opts)); calls may come from
// any executor. `opts` gives AUTH, db (must be 0 on a cluster) and the timeouts for every node.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "redis/client.hpp"
#include "redis/cluster_slots.hpp"
#include "redis/command_list.hpp"
#include "tresse/common/discardable_io_context.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::redis {

class cluster_client {
 public:
  static constexpr int max_redirects = 5;

  cluster_client(options opts, std::vector<cluster_node> seeds);
  // Seeds from opts.cluster_nodes ("host:port", "[v6]:port").
  explicit cluster_client(options opts);
  ~cluster_client();  // stop()
  cluster_client(const cluster_client&) = delete;
  cluster_client& operator=(const cluster_client&) = delete;

  // An error reply is an error result (permanent, as async_client), after redirections.
  boost::asio::awaitable<result<reply>> command(std::vector<std::string> argv);
  boost::asio::awaitable<result<reply>> eval(const script& s, std::vector<std::string> keys,
                                             std::vector<std::string> args);
  // Each command to its own slot's primary, the groups concurrently; the replies in order,
  // error replies kept as kind::error (not a transaction, as a pipeline on one node). An error
  // result only when a command could reach no node.
  boost::asio::awaitable<result<std::vector<reply>>> pipeline(
      std::vector<std::vector<std::string>> commands);

  // What async_client and client hand over in cluster mode: RESP-encoded commands
  // (command_list::resp()), routed as pipeline(). `done` runs on its associated executor.
  using batch_completion = boost::asio::any_completion_handler<void(result<std::vector<reply>>)>;
  void submit(std::string_view encoded, std::size_t count, batch_completion done);
  // The same, waiting for the replies (the blocking client; never from this client's thread).
  result<std::vector<reply>> run(const command_list& commands);

  // "host:port" of the primary serving `key`'s slot in the last map read, "" before one (any
  // thread).
  std::string node_of(std::string_view key) const;
  // How many times the slot map was read (for tests and metrics).
  std::size_t map_reads() const;
  // Bumps whenever a node's connection failed or the slot map was read again (after MOVED or a
  // failover). Two replies read with the same value came over the same connections to the
  // same primaries: what WAIT needs (async_client::connection_generation).
  std::uint64_t generation() const;

  // Stops the client's thread and destroys the calls still in flight, unanswered, with their
  // completions: the callers' coroutines (a shard's, at its stop, while what they hold lives).
  // Not from this client's thread. Once; the client takes no call after it.
  void stop();

 private:
  struct state;
  std::unique_ptr<discardable_io_context> io_;
  std::shared_ptr<state> state_;
  std::thread thread_;
};

// The key a command is routed by (in argv), null for a keyless command (tested apart from I/O).
const std::string* command_key(const std::vector<std::string>& argv);
// That key's slot, nullopt for a keyless command.
std::optional<std::uint16_t> command_slot(const std::vector<std::string>& argv);
// "host:port" or "[v6]:port" as a node; a permanent error naming the entry otherwise.
result<cluster_node> parse_node(std::string_view host_port);
// RESP-encoded commands back into argument vectors (they are arrays of bulk strings).
result<std::vector<std::vector<std::string>>> decode_commands(std::string_view resp,
                                                              std::size_t count);

}  // namespace tresse::dispatcher::redis
