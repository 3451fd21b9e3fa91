// A small HTTP forward proxy on 127.0.0.1 (port 0, its own thread), for the egress-proxy tests:
// CONNECT host:port opens a tunnel (200, then bytes both ways); an absolute-form request
// (`POST http://host:port/path`) is forwarded in origin form on a fresh connection. It records
// every request line and Proxy-Authorization it saw, and can refuse as a failing proxy would.
//
//   tresse::test::connect_proxy proxy;
//   client_options.proxy = proxy.url();                 // "http://127.0.0.1:PORT"
//   ... post ...
//   EXPECT_EQ(proxy.connects(), 1);                     // CONNECTs answered 200
//   EXPECT_EQ(proxy.request_lines()[0], "CONNECT 127.0.0.1:443 HTTP/1.1");
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tresse::test {

struct connect_proxy_options {
  // Answer every request with this status and close (0: work as a proxy).
  unsigned refuse_with = 0;
  // When set, requests without exactly this Proxy-Authorization value get 407.
  std::string required_authorization;
};

class connect_proxy {
 public:
  explicit connect_proxy(connect_proxy_options options = {});
  ~connect_proxy();
  connect_proxy(const connect_proxy&) = delete;
  connect_proxy& operator=(const connect_proxy&) = delete;

  // Starts (status) or stops (0) refusing every request, as a failing proxy would.
  void refuse_with(unsigned status) { refuse_with_ = status; }

  std::uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  int connections() const { return connections_.load(); }  // TCP connections accepted
  int connects() const { return connects_.load(); }        // tunnels opened (CONNECT, 200)
  int forwards() const { return forwards_.load(); }        // absolute-form requests forwarded
  std::vector<std::string> request_lines() const;          // every request line, in order
  std::vector<std::string> authorizations() const;         // Proxy-Authorization ("" if none)

 private:
  struct impl;
  void record(std::string line, std::string authorization);

  connect_proxy_options options_;
  std::unique_ptr<impl> impl_;
  std::uint16_t port_ = 0;
  std::atomic<unsigned> refuse_with_{0};
  std::thread thread_;
  std::atomic<int> connections_{0};
  std::atomic<int> connects_{0};
  std::atomic<int> forwards_{0};
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
  std::vector<std::string> authorizations_;
};

}  // namespace tresse::test
