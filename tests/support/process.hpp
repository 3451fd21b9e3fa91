// Running programs from tests: run one to completion and collect its output, or start one in
// the background (a server under test) and read its output line by line.
//
//   auto r = tresse::test::run_process({TRESSE_WEBHOOK_BIN, "verify", "--secret", s}, body);
//   EXPECT_EQ(r.exit_code, 1);
//
//   auto listen = tresse::test::child_process::start({TRESSE_WEBHOOK_BIN, "listen", ...});
//   std::optional<std::string> first = listen.stderr_line();  // waits up to 10 s
//   listen.send_signal(SIGTERM);
//   EXPECT_EQ(listen.wait(), 0);
//
// Every wait has a timeout, so a hung child fails the test instead of hanging it. Spawn
// failures throw std::runtime_error (test set-up).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tresse::test {

struct process_result {
  int exit_code = -1;  // 128 + signal number when killed by a signal
  std::string out;
  std::string err;
  bool timed_out = false;  // killed after the timeout
};

// Runs argv (argv[0] is a path) with `input` on stdin until it exits, collecting stdout and
// stderr.
process_result run_process(const std::vector<std::string>& argv, std::string_view input = {},
                           std::chrono::milliseconds timeout = std::chrono::seconds(30));

// A process running in the background: stdin is /dev/null, stdout and stderr are pipes.
// Killed (SIGKILL) and reaped at destruction if still running.
class child_process {
 public:
  static child_process start(const std::vector<std::string>& argv);

  child_process(child_process&& other) noexcept;
  child_process& operator=(child_process&& other) noexcept;
  ~child_process();

  pid_t pid() const { return pid_; }

  // The next line on stdout / stderr without its '\n'; nullopt at EOF or after `timeout`.
  std::optional<std::string> stdout_line(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::optional<std::string> stderr_line(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));

  void send_signal(int sig);
  // Waits for the process to end: its exit code (128 + signal when killed by one), nullopt on
  // timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  struct stream {
    int fd = -1;
    std::string pending;  // bytes read past the last line returned
  };
  child_process() = default;
  std::optional<std::string> read_line(stream& s, std::chrono::milliseconds timeout);
  void close_all();

  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  stream out_;
  stream err_;
};

// A loopback port that was free a moment ago (bound to port 0 and released). Prefer letting
// the server under test bind port 0 itself; use this only for programs that cannot.
std::uint16_t free_port();

}  // namespace tresse::test
