#include "support/slow_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace tresse::test {
namespace {

// Waits up to `wait` for the server to close: true on end of stream or an error.
bool closed_within(int fd, std::chrono::milliseconds wait) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(wait.count())) != 1) return false;
  char sink[512];
  auto n = ::recv(fd, sink, sizeof sink, MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

}  // namespace

std::optional<std::chrono::milliseconds> trickle_until_closed(const std::string& host,
                                                              std::uint16_t port,
                                                              std::string_view at_once,
                                                              std::string_view trickled,
                                                              std::chrono::milliseconds every) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &to.sin_addr) != 1) {
    throw std::invalid_argument("trickle_until_closed: not an IPv4 address: " + host);
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("trickle_until_closed: no socket");
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } close_on_exit{fd};
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
    throw std::runtime_error("trickle_until_closed: cannot connect to port " +
                             std::to_string(port));
  }
  if (!at_once.empty() && ::send(fd, at_once.data(), at_once.size(), MSG_NOSIGNAL) < 0) {
    throw std::runtime_error("trickle_until_closed: send failed");
  }
  const auto begin = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 begin);
  };
  for (char byte : trickled) {
    if (::send(fd, &byte, 1, MSG_NOSIGNAL) != 1) return elapsed();
    if (closed_within(fd, every)) return elapsed();
  }
  if (closed_within(fd, every)) return elapsed();
  return std::nullopt;
}

}  // namespace tresse::test
