// A real redis-server for tests: started on a free loopback port with its own temp dir, no
// persistence unless asked, ready (answers PING) when start() returns, killed at destruction.
// stop() and start() again reuse the port, for "Redis went away" tests.
//
//   tresse::test::redis_server redis;          // started
//   std::string url = redis.url();             // "redis://127.0.0.1:<port>/0"
//   redis.stop();  /* ... Redis is down ... */  redis.start();
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace tresse::test {

struct redis_server_options {
  bool persistence = false;        // true: appendonly yes (data survives stop/start)
  std::vector<std::string> extra;  // more redis-server arguments, e.g. {"--requirepass", "pw"}
  bool start = true;               // start in the constructor
  // Non-empty: a Redis Sentinel (`redis-server <dir>/sentinel.conf --sentinel`) whose config
  // file holds these lines, e.g. {"sentinel monitor mymaster 127.0.0.1 6379 2"}.
  std::vector<std::string> sentinel_config;
};

class redis_server {
 public:
  explicit redis_server(redis_server_options opts = {});
  ~redis_server();
  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  // Starts redis-server (on the previous port if it ran before) and waits until it answers
  // PING. Throws std::runtime_error if it does not come up.
  void start();
  // SIGTERM, then waits for the process to exit (SIGKILL after a few seconds).
  void stop();
  // SIGKILL at once: a crash, nothing flushed or handed over.
  void kill();
  // SIGSTOP / SIGCONT: a server that hangs (its sockets stay open) and comes back.
  void pause();
  void resume();
  bool running() const { return process_.has_value(); }

  int port() const { return port_; }
  std::string host() const { return "127.0.0.1"; }
  std::string url(int db = 0) const;
  const std::filesystem::path& dir() const { return dir_; }

 private:
  bool launch_and_wait(int port);

  redis_server_options opts_;
  std::filesystem::path dir_;
  int port_ = 0;
  std::optional<child_process> process_;
};

}  // namespace tresse::test
