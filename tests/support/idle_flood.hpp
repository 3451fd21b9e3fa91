// A flood of idle TCP connections, the attacker of the listener tests: it connects and then
// says nothing (or only the start of a request, `say_first`, so that each connection is in the
// middle of one), holding its descriptors on the server until the server closes them.
//
//   tresse::test::idle_flood flood("127.0.0.1", port, 300);  // connected, all kept open
//   EXPECT_TRUE(eventually_true([&] { return flood.closed_by_peer() == 300; }));
//   tresse::test::idle_flood busy("127.0.0.1", port, 16, "GET / HTTP/1.1\r\n");
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tresse::test {

class idle_flood {
 public:
  // Opens `count` connections to host:port (an IPv4 address) and sends `say_first` on each,
  // then nothing. A connection the kernel refuses is not retried (count() says how many
  // connected). Raises this process's soft descriptor limit to the hard one first.
  idle_flood(const std::string& host, std::uint16_t port, std::size_t count,
             std::string_view say_first = {});
  ~idle_flood();  // closes what is left
  idle_flood(const idle_flood&) = delete;
  idle_flood& operator=(const idle_flood&) = delete;

  // Connections that connected.
  std::size_t count() const { return sockets_.size(); }
  // Of those, the ones the server has closed (end of stream or reset), checked now without
  // waiting.
  std::size_t closed_by_peer() const;

 private:
  std::vector<int> sockets_;
};

}  // namespace tresse::test
