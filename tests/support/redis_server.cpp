#include "support/redis_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string_view>
#include <thread>

namespace tresse::test {
namespace {

using namespace std::chrono_literals;

// A raw RESP PING, so the fixture needs no Redis client of its own. Any reply means Redis is
// serving ("-NOAUTH" when the test set a password).
bool answers_ping(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    static constexpr char ping[] = "PING\r\n";
    if (::send(fd, ping, sizeof ping - 1, MSG_NOSIGNAL) == sizeof ping - 1) {
      char buf[16] = {};
      ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);
      std::string_view got(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
      ok = got.starts_with("+PONG") || got.starts_with("-NOAUTH");
    }
  }
  ::close(fd);
  return ok;
}

// child_process wants a path; find redis-server on PATH once.
const std::string& redis_server_path() {
  static const std::string path = [] {
    const char* env = std::getenv("PATH");
    std::string dirs = env ? env : "/usr/local/bin:/usr/bin:/bin";
    std::size_t start = 0;
    while (start <= dirs.size()) {
      std::size_t end = dirs.find(':', start);
      if (end == std::string::npos) end = dirs.size();
      auto candidate = std::filesystem::path(dirs.substr(start, end - start)) / "redis-server";
      if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
      start = end + 1;
    }
    throw std::runtime_error("redis_server: redis-server not found on PATH");
  }();
  return path;
}

}  // namespace

redis_server::redis_server(redis_server_options opts) : opts_(std::move(opts)) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "tresse-redis-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("redis_server: mkdtemp failed");
  dir_ = tmpl;
  if (!opts_.start) return;
  try {
    start();
  } catch (...) {  // the destructor will not run: clean up here
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    throw;
  }
}

redis_server::~redis_server() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string redis_server::url(int db) const {
  return "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
}

void redis_server::start() {
  if (running()) return;
  if (port_ != 0) {
    // Same port as before: a just-stopped server's socket may linger briefly, so retry.
    for (int i = 0; i < 50; ++i) {
      if (launch_and_wait(port_)) return;
      std::this_thread::sleep_for(100ms);
    }
    throw std::runtime_error("redis_server: could not restart on port " + std::to_string(port_));
  }
  // Another process may take the free port before redis binds it: then try another one.
  for (int i = 0; i < 10; ++i) {
    int p = free_port();
    if (launch_and_wait(p)) {
      port_ = p;
      return;
    }
  }
  throw std::runtime_error("redis_server: redis-server did not start");
}

bool redis_server::launch_and_wait(int port) {
  std::vector<std::string> args = {redis_server_path()};
  if (!opts_.sentinel_config.empty()) {
    // Sentinel rewrites its config file as it learns, so each start gets it fresh from opts_.
    const auto conf = dir_ / "sentinel.conf";
    {
      std::ofstream out(conf, std::ios::trunc);
      for (const auto& line : opts_.sentinel_config) out << line << "\n";
    }
    args.push_back(conf.string());
    args.push_back("--sentinel");
  }
  args.insert(args.end(),
              {"--port", std::to_string(port), "--bind", "127.0.0.1", "--dir", dir_.string(),
               "--save", "", "--appendonly", opts_.persistence ? "yes" : "no", "--daemonize", "no",
               "--logfile", (dir_ / "redis.log").string()});
  args.insert(args.end(), opts_.extra.begin(), opts_.extra.end());
  process_.emplace(child_process::start(args));
  // Generous: a loaded 2-core machine can take a while to exec and load.
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (process_->wait(0ms)) {  // exited: the port is taken
      process_.reset();
      return false;
    }
    if (answers_ping(port)) return true;
    std::this_thread::sleep_for(20ms);
  }
  process_.reset();  // SIGKILL
  return false;
}

void redis_server::kill() {
  if (!process_) return;
  process_->send_signal(SIGKILL);
  process_.reset();
}

void redis_server::pause() {
  if (process_) process_->send_signal(SIGSTOP);
}

void redis_server::resume() {
  if (process_) process_->send_signal(SIGCONT);
}

void redis_server::stop() {
  if (!process_) return;
  process_->send_signal(SIGTERM);
  process_->send_signal(SIGCONT);  // a paused server would not see the SIGTERM
  if (!process_->wait(10s)) process_->send_signal(SIGKILL);
  process_.reset();  // reaps (SIGKILL first if still running)
}

}  // namespace tresse::test
