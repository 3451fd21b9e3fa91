#include "support/idle_flood.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace tresse::test {

idle_flood::idle_flood(const std::string& host, std::uint16_t port, std::size_t count,
                       std::string_view say_first) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &to.sin_addr) != 1) {
    throw std::invalid_argument("idle_flood: not an IPv4 address: " + host);
  }
  sockets_.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) break;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
      ::close(fd);
      continue;
    }
    if (!say_first.empty()) (void)::send(fd, say_first.data(), say_first.size(), MSG_NOSIGNAL);
    sockets_.push_back(fd);
  }
}

idle_flood::~idle_flood() {
  for (int fd : sockets_) ::close(fd);
}

std::size_t idle_flood::closed_by_peer() const {
  std::size_t closed = 0;
  for (int fd : sockets_) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) != 1) continue;  // nothing yet: still open
    char byte;
    auto n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) ++closed;
  }
  return closed;
}

}  // namespace tresse::test
