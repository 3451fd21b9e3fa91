// A synchronous Redis client over hiredis: a small pool of connections that several threads
// share, binary-safe commands, pipelines and Lua scripts. Calls block, so the dispatcher makes
// them off its io threads.
//
//   auto opts = tresse::dispatcher::redis::parse_url("redis://app:pw@127.0.0.1:6379/0");
//   tresse::dispatcher::redis::client redis(*opts);
//   auto r = redis.command({"SET", "k", std::string_view("\0binary", 7)});
//   if (!r) { /* r.error().kind == transient: Redis unreachable, try again later */ }
//   auto v = redis.command({"GET", "k"});  // v->str == "\0binary"
//
// Failures: a lost connection, a timeout or a refused connect is transient (the connection is
// dropped and the next call reconnects, with sentinels to the primary they name now); an error
// reply from Redis (WRONGTYPE, a script error) is permanent, except the few that mean "not now"
// (LOADING, BUSY, TRYAGAIN, MASTERDOWN, ...). READONLY (a demoted primary) is transient too, and
// drops the connection.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "redis/command_list.hpp"
#include "tresse/common/result.hpp"

struct redisContext;
struct redisReply;

namespace tresse::dispatcher::redis {

class cluster_client;

// A host and port: a Redis server or a sentinel.
struct address {
  std::string host;
  int port = 0;
  bool operator==(const address&) const = default;
};

struct options {
  std::string host = "127.0.0.1";  // with sentinels: found through them (redis/sentinel.hpp)
  int port = 6379;
  // redis+sentinel://: the sentinels to ask, in turn, for the primary of `master_name`. Every
  // (re)connect asks again, so a connection follows a failover.
  std::vector<address> sentinels;
  std::string master_name;
  std::string user;      // an ACL user name; empty: the default user
  std::string password;  // empty (and no user): no AUTH
  int db = 0;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds command_timeout{2000};
  std::size_t pool_size = 4;
  // The delivery path's durable writes (delivery/redis_writer.hpp) end with WAIT
  // wait_replicas wait_timeout when this is above 0, or with wait_auto WAIT 1 while the primary
  // has a replica: see the README, "Redis Sentinel".
  static constexpr int wait_auto = -1;
  int wait_replicas = 0;
  std::chrono::milliseconds wait_timeout{1000};

  bool uses_sentinel() const { return !sentinels.empty(); }

  // Non-empty (redis+cluster://): a Redis Cluster, these its seed nodes ("host:port"); host and
  // port above are then unused, db is 0. Both clients route through redis::cluster_client.
  std::vector<std::string> cluster_nodes;
};

// Parses redis://[[user]:password@]host[:port][/db]: user and password percent-decoded
// (`p%40ss` is `p@ss`), an IPv6 host in brackets (`redis://[::1]:6379/0`); or
// redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/master-name[/db]: the
// sentinels (port 26379 by default) and the name they know the primary by; the user and
// password are the primary's (sentinels are asked without AUTH); or
// redis+cluster://[[user]:password@]host[:port][,host[:port]...][/0]: a Redis Cluster's seed
// nodes (port 6379 by default) into cluster_nodes, any db but 0 refused. Other fields keep their
// defaults. Returns a permanent error for anything else (another scheme, a bad port or
// db); its message names the part at fault, never the URL, which may hold a password.
result<options> parse_url(std::string_view url);

// host[:port] or [v6]:port, `default_port` when none is given: the servers and sentinels of a
// URL, and a Redis Cluster's seed nodes. A permanent error names the part at fault.
result<address> parse_host_port(std::string_view authority, int default_port);

// The AUTH command `o` asks for, empty when none: AUTH password, or AUTH user password (an
// ACL user, Redis 6+). Both clients send it first on every new connection.
std::vector<std::string_view> auth_argv(const options& o);

// A reply copied out of hiredis' redisReply, so it outlives the connection and nests freely.
struct reply {
  enum class kind { string, status, integer, array, nil, error };
  kind type = kind::nil;
  std::string str;  // string, status and error replies (binary-safe)
  std::int64_t integer = 0;
  std::vector<reply> elements;

  bool is_nil() const { return type == kind::nil; }
};

// A Lua script run by EVALSHA, falling back to EVAL (which also loads it) on NOSCRIPT, so a
// restarted or flushed Redis needs no separate SCRIPT LOAD step.
// Every client calls it the same way: call_argv(false, …) first, and on a reply or error that
// missing() recognises, call_argv(true, …) once.
class script {
 public:
  explicit script(std::string source);
  const std::string& source() const { return source_; }
  const std::string& sha1() const { return sha1_; }

  // EVALSHA sha1 (by_source false) or EVAL source, the key count, the keys, the arguments.
  // The views point into `key_count` (set here), the script and the ranges given.
  template <class Keys, class Args>
  std::vector<std::string_view> call_argv(bool by_source, std::string& key_count, const Keys& keys,
                                          const Args& args) const {
    key_count = std::to_string(std::size(keys));
    std::vector<std::string_view> argv;
    argv.reserve(3 + std::size(keys) + std::size(args));
    argv.insert(argv.end(), {by_source ? std::string_view("EVAL") : std::string_view("EVALSHA"),
                             by_source ? source_ : sha1_, key_count});
    argv.insert(argv.end(), std::begin(keys), std::end(keys));
    argv.insert(argv.end(), std::begin(args), std::end(args));
    return argv;
  }
  // The server does not have the script (restarted, flushed, failed over): call it by source.
  static bool missing(std::string_view error_text) {
    return error_text.find("NOSCRIPT") != std::string_view::npos;
  }

 private:
  std::string source_;
  std::string sha1_;  // lowercase hex
};

// One connection. Not thread-safe; the pool hands each to one thread at a time.
class connection {
 public:
  explicit connection(options opts);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Sends one command. An error reply is returned as an error (see the file comment).
  result<reply> command(std::span<const std::string_view> argv);

  // Sends all commands in one round trip and returns one reply per command; error replies
  // stay in the vector as kind::error (a pipeline is not a transaction).
  result<std::vector<reply>> pipeline(const command_list& commands);

  result<reply> eval(const script& s, std::span<const std::string_view> keys,
                     std::span<const std::string_view> args);

 private:
  struct context_deleter {
    void operator()(redisContext* c) const;
  };
  using context_ptr = std::unique_ptr<redisContext, context_deleter>;

  status ensure_connected();
  result<reply> round_trip(std::span<const std::string_view> argv);  // error replies kept
  // READONLY: this server was demoted; reconnecting finds the new primary (redis/sentinel.hpp).
  void drop_if_demoted(const reply& r);

  options opts_;
  context_ptr ctx_;
};

// A pool of `options::pool_size` connections, connected lazily. Thread-safe: each call borrows
// a connection for its duration (waiting if all are busy).
class client {
 public:
  explicit client(options opts);
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  const options& config() const { return opts_; }

  result<reply> command(std::initializer_list<std::string_view> argv);
  result<reply> command(std::span<const std::string_view> argv);
  result<reply> command(const std::vector<std::string>& argv);
  result<std::vector<reply>> pipeline(const std::vector<std::vector<std::string>>& commands);
  result<std::vector<reply>> pipeline(const command_list& commands);
  // A pipeline of writes whose replies do not matter, only that none was an error reply
  // (permanent error then, naming it).
  status pipeline_ok(const std::vector<std::vector<std::string>>& commands);
  status pipeline_ok(const command_list& commands);
  result<reply> eval(const script& s, std::initializer_list<std::string_view> keys,
                     std::initializer_list<std::string_view> args);
  result<reply> eval(const script& s, const std::vector<std::string>& keys,
                     const std::vector<std::string>& args);

  // PING; ok when Redis answered PONG.
  status ping();

 private:
  class lease;
  lease borrow();
  result<reply> eval_of(const script& s, std::span<const std::string_view> keys,
                        std::span<const std::string_view> args);

  options opts_;
  std::shared_ptr<cluster_client> cluster_;  // set: cluster mode, no pool
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<connection>> idle_;
};

// For client implementations (this one and async_client): hiredis' reply copied out, and an
// error reply as an error (permanent, unless Redis says "not now": LOADING, BUSY, ...).
reply copy_reply(const redisReply* r);
error error_of(const reply& r);

// Views of each string, for the span overloads.
std::vector<std::string_view> views(const std::vector<std::string>& v);

}  // namespace tresse::dispatcher::redis
