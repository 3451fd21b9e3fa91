// A slowloris client for the listener tests: it sends a request a byte at a time, each byte
// soon enough to beat any idle timeout, and reports when the server gave up on it.
//
//   auto closed_after = tresse::test::trickle_until_closed(
//       "127.0.0.1", port, "", "GET / HTTP/1.1\r\nX-Slow: aaaa…", 50ms);
//   ASSERT_TRUE(closed_after);  // nullopt: every byte went out and the server kept waiting
//   EXPECT_LT(*closed_after, 5s);
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tresse::test {

// Connects to host:port (an IPv4 address), sends `at_once`, then `trickled` one byte every
// `every`. Returns how long after the first trickled byte the server closed the connection
// (end of stream or reset), or nullopt when all of it was sent and the connection stayed open
// for one more `every`. Throws std::runtime_error when it cannot connect.
std::optional<std::chrono::milliseconds> trickle_until_closed(const std::string& host,
                                                              std::uint16_t port,
                                                              std::string_view at_once,
                                                              std::string_view trickled,
                                                              std::chrono::milliseconds every);

}  // namespace tresse::test
