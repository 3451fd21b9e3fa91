// A tiny HTTP/1.1 client for tests (Boost.Beast over one TCP connection, every step bounded by
// a timeout so a silent server fails the test instead of hanging it).
//
//   tresse::test::http_client client("127.0.0.1", port);
//   auto reply = client.post("/", {{"webhook-id", "evt_1"}, ...}, body);
//   EXPECT_EQ(reply.status, 204);
//   auto again = client.post(...);          // same connection (keep-alive)
//   client.write_raw(two_requests);          // pipelining: raw bytes ...
//   auto first = client.read_reply();        // ... then one reply at a time
//
// Connection failures and timeouts throw std::runtime_error.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tresse::test {

using http_headers = std::vector<std::pair<std::string, std::string>>;

struct http_reply {
  unsigned status = 0;
  http_headers headers;  // names as sent by the server
  std::string body;
  bool keep_alive = false;

  // The first header called `name` (any case), or "".
  std::string header(std::string_view name) const;
};

class http_client {
 public:
  http_client(const std::string& host, std::uint16_t port,
              std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  // Sends one request on this connection and reads its reply. Host, Content-Length and (for a
  // body) Content-Type: application/json are added unless given.
  http_reply request(std::string_view method, std::string_view target, const http_headers& headers,
                     std::string_view body);
  http_reply post(std::string_view target, const http_headers& headers, std::string_view body) {
    return request("POST", target, headers, body);
  }

  void write_raw(std::string_view bytes);
  // Reads the next reply; `to_head` when it answers a HEAD request (headers only).
  http_reply read_reply(bool to_head = false);
  // True when the server closed the connection (reads EOF within `wait`).
  bool closed_by_peer(std::chrono::milliseconds wait = std::chrono::seconds(5));

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace tresse::test
