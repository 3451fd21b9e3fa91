#include "support/process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <utility>

extern char** environ;

namespace tresse::test {
namespace {

using clock = std::chrono::steady_clock;

struct pipe_pair {
  int read = -1;
  int write = -1;
};

pipe_pair make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  }
  return {fds[0], fds[1]};
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// A child that exits without reading its stdin (it was given --body-file, or it rejected its
// arguments) makes our next write fail with EPIPE; by default that write would also raise
// SIGPIPE and kill the whole test binary. Ignored here, process-wide and once: EPIPE then just
// means "the child did not want it". Children get the default disposition back (spawn).
void ignore_sigpipe() {
  static const bool done = [] {
    struct sigaction sa{};
    sa.sa_handler = SIG_IGN;
    ::sigemptyset(&sa.sa_mask);
    return ::sigaction(SIGPIPE, &sa, nullptr) == 0;
  }();
  (void)done;
}

// Spawns argv with the given descriptors as 0, 1, 2, and SIGPIPE at its default (an ignored
// signal would otherwise stay ignored across exec).
pid_t spawn(const std::vector<std::string>& argv, int in, int out, int err) {
  if (argv.empty()) throw std::runtime_error("spawn: empty argv");
  ignore_sigpipe();
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in, 0);
  posix_spawn_file_actions_adddup2(&actions, out, 1);
  posix_spawn_file_actions_adddup2(&actions, err, 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) throw std::runtime_error("spawn " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

int remaining_ms(clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

std::optional<int> wait_until(pid_t pid, clock::time_point deadline) {
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return decode_status(status);
    if (r < 0 && errno != EINTR) return -1;
    if (clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

process_result run_process(const std::vector<std::string>& argv, std::string_view input,
                           std::chrono::milliseconds timeout) {
  pipe_pair in = make_pipe(), out = make_pipe(), err = make_pipe();
  pid_t pid = -1;
  try {
    pid = spawn(argv, in.read, out.write, err.write);
  } catch (...) {
    for (int* fd : {&in.read, &in.write, &out.read, &out.write, &err.read, &err.write})
      close_fd(*fd);
    throw;
  }
  close_fd(in.read);
  close_fd(out.write);
  close_fd(err.write);
  ::fcntl(in.write, F_SETFL, O_NONBLOCK);
  if (input.empty()) close_fd(in.write);

  process_result result;
  auto deadline = clock::now() + timeout;
  std::size_t written = 0;
  while (out.read >= 0 || err.read >= 0) {
    pollfd fds[3];
    nfds_t n = 0;
    for (int fd : {out.read, err.read}) {
      if (fd >= 0) fds[n++] = {fd, POLLIN, 0};
    }
    if (in.write >= 0) fds[n++] = {in.write, POLLOUT, 0};
    int ready = ::poll(fds, n, remaining_ms(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      result.timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in.write) {
        ssize_t w = ::write(in.write, input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<std::size_t>(w);
        // EPIPE: the child closed stdin without reading it all; that is its business.
        if (w < 0 && errno != EAGAIN && errno != EINTR) written = input.size();
        if (written == input.size()) close_fd(in.write);
        continue;
      }
      int& fd = fds[i].fd == out.read ? out.read : err.read;
      std::string& sink = fds[i].fd == out.read ? result.out : result.err;
      char buf[8192];
      ssize_t r = ::read(fd, buf, sizeof buf);
      if (r > 0) {
        sink.append(buf, static_cast<std::size_t>(r));
      } else if (r == 0 || errno != EINTR) {
        close_fd(fd);
      }
    }
  }
  close_fd(in.write);
  close_fd(out.read);
  close_fd(err.read);
  auto code = wait_until(pid, clock::now() + std::chrono::seconds(5));
  if (!code) {
    ::kill(pid, SIGKILL);
    code = wait_until(pid, clock::now() + std::chrono::seconds(5));
    result.timed_out = true;
  }
  result.exit_code = code.value_or(-1);
  return result;
}

child_process child_process::start(const std::vector<std::string>& argv) {
  pipe_pair out = make_pipe(), err = make_pipe();
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  child_process c;
  try {
    c.pid_ = spawn(argv, devnull, out.write, err.write);
  } catch (...) {
    for (int* fd : {&out.read, &out.write, &err.read, &err.write, &devnull}) close_fd(*fd);
    throw;
  }
  close_fd(devnull);
  close_fd(out.write);
  close_fd(err.write);
  c.out_.fd = out.read;
  c.err_.fd = err.read;
  return c;
}

child_process::child_process(child_process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      exit_code_(other.exit_code_),
      out_(std::exchange(other.out_, {})),
      err_(std::exchange(other.err_, {})) {}

child_process& child_process::operator=(child_process&& other) noexcept {
  if (this != &other) {
    child_process old(std::move(other));  // ends up holding (and killing) this one's process
    std::swap(pid_, old.pid_);
    std::swap(exit_code_, old.exit_code_);
    std::swap(out_, old.out_);
    std::swap(err_, old.err_);
  }
  return *this;
}

child_process::~child_process() {
  if (pid_ > 0 && !exit_code_) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(10));
  }
  close_all();
}

void child_process::close_all() {
  close_fd(out_.fd);
  close_fd(err_.fd);
}

std::optional<std::string> child_process::stdout_line(std::chrono::milliseconds timeout) {
  return read_line(out_, timeout);
}

std::optional<std::string> child_process::stderr_line(std::chrono::milliseconds timeout) {
  return read_line(err_, timeout);
}

std::optional<std::string> child_process::read_line(stream& s, std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  for (;;) {
    if (auto nl = s.pending.find('\n'); nl != std::string::npos) {
      std::string line = s.pending.substr(0, nl);
      s.pending.erase(0, nl + 1);
      return line;
    }
    if (s.fd < 0) return std::nullopt;
    pollfd p{s.fd, POLLIN, 0};
    int ready = ::poll(&p, 1, remaining_ms(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return std::nullopt;
    char buf[8192];
    ssize_t r = ::read(s.fd, buf, sizeof buf);
    if (r > 0) {
      s.pending.append(buf, static_cast<std::size_t>(r));
    } else if (r == 0 || errno != EINTR) {
      close_fd(s.fd);
      if (s.pending.empty()) return std::nullopt;
      return std::exchange(s.pending, {});  // last line without '\n'
    }
  }
}

void child_process::send_signal(int sig) {
  if (pid_ > 0 && !exit_code_) ::kill(pid_, sig);
}

std::optional<int> child_process::wait(std::chrono::milliseconds timeout) {
  if (exit_code_ || pid_ <= 0) return exit_code_;
  exit_code_ = wait_until(pid_, clock::now() + timeout);
  return exit_code_;
}

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("free_port: socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  if (!ok) throw std::runtime_error("free_port: bind failed");
  return ntohs(addr.sin_port);
}

}  // namespace tresse::test
