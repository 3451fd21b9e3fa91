// The egress proxy (delivery.proxy): what the delivery client needs to send webhooks through an
// HTTP proxy, for static source addresses or a filtering proxy such as smokescreen.
//
//   auto p = proxy::parse("http://user:pa%40ss@proxy.internal:3128", {"intranet.example", "10.0.0.0/8"});
//   p->bypasses(target_url);                  // no_proxy: a host suffix or a CIDR of an IP literal
//   p->connect_request("93.184.216.34:443");  // "CONNECT ... HTTP/1.1\r\n...Proxy-Authorization..."
//   proxy_answer_kind(407);                   // failure_kind::proxy: the proxy's fault
//
// https targets go through a CONNECT tunnel, with TLS to the endpoint inside it; http targets are
// sent to the proxy in absolute form. The proxy's own address is configured by ops and is not
// checked by the SSRF guard. The Proxy-Authorization value is a secret: never logged or shown.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/address_guard.hpp"
#include "http/url.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::http {

enum class failure_kind;  // http/client.hpp

class proxy {
 public:
  // `text` is http://[user:password@]host:port (user and password percent-encoded; an IPv6 host
  // in brackets); `no_proxy` entries are host suffixes ("example.com" covers it and its
  // subdomains, a leading dot is allowed) or CIDRs (matched against IP-literal targets, as curl
  // does). A permanent error says what is wrong, never echoing the user-info.
  static tresse::result<proxy> parse(std::string_view text, const std::vector<std::string>& no_proxy = {});

  // Why a no_proxy entry is not valid, or nullopt (the config's check, the same rules).
  static std::optional<std::string> no_proxy_problem(std::string_view entry);

  // True when `target` goes direct (no_proxy).
  bool bypasses(const url& target) const;

  const std::string& host() const { return host_; }
  std::uint16_t port() const { return port_; }
  bool host_is_ip() const { return host_is_ip_; }
  std::string address() const;  // "host:port", for logs (no credentials)

  // "CONNECT <authority> HTTP/1.1" with Host and, when credentials were given,
  // Proxy-Authorization: Basic.
  std::string connect_request(std::string_view authority) const;
  // The Proxy-Authorization field line ("" without credentials), for absolute-form requests.
  const std::string& authorization_field() const { return authorization_field_; }

 private:
  std::optional<std::string> add_no_proxy(std::string_view entry);  // why not, or nullopt

  std::string host_;
  bool host_is_ip_ = false;
  std::uint16_t port_ = 0;
  std::string authorization_field_;  // "Proxy-Authorization: Basic ...\r\n" or ""
  std::vector<std::string> suffixes_;  // lower case, without a leading dot
  std::vector<cidr> ranges_;
};

// What a proxy's status to CONNECT means: nullopt for 2xx (the tunnel is open); connect for 502
// and 504 (the proxy could not reach the endpoint: the endpoint's failure, as a refused
// connection would be) and other 4xx (the proxy refused that destination); proxy for 407 and the
// other 5xx (the proxy itself is failing: an instance-level fault, never the endpoint's).
std::optional<failure_kind> proxy_answer_kind(unsigned status);

// Reads the proxy's answer to a CONNECT already written on `socket`: its status, or an error
// (a malformed answer, or one whose header is over `max_header` bytes, is an error; so are bytes
// after it, which a proxy must not send before the TLS handshake).
struct proxy_reply {
  boost::system::error_code ec;
  unsigned status = 0;
  std::string error;  // why the answer is unusable ("" when ec or status says it)
};
boost::asio::awaitable<proxy_reply> read_proxy_reply(boost::asio::ip::tcp::socket& socket,
                                                     std::size_t max_header);

// What the deliveries last saw of the proxy, for /readyz and tresse_ready{check="proxy"}: the
// proxy is failing when its last outcome was a failure (unreachable, 407, its own 5xx) and that
// is recent. Thread-safe: every delivery thread reports, the admin thread reads.
class proxy_health {
 public:
  void worked(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
  void failed(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
  // A failure older than `memory` with nothing since is forgotten (the deliveries it deferred
  // come back within the retry schedule's first delay, and would have reported again).
  bool failing(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now(),
               std::chrono::steady_clock::duration memory = std::chrono::seconds(60)) const;

 private:
  std::atomic<std::int64_t> last_worked_{0};  // steady_clock ticks; 0 = never
  std::atomic<std::int64_t> last_failed_{0};
};

// True when a TCP connection to the proxy opens within `timeout` (closed at once): /readyz's
// active half, which sees a dead proxy even while no delivery is trying it. Blocks the caller.
bool proxy_reachable(const proxy& p, std::chrono::milliseconds timeout);

}  // namespace tresse::dispatcher::http
