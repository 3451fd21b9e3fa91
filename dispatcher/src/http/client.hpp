// The dispatcher's outgoing HTTP client: POSTs a webhook to a business endpoint.
//
// One `post` is one delivery attempt, an awaitable that never throws: it resolves the host,
// checks every address with the SSRF guard (address_guard.hpp) before connecting to exactly
// that address (directly, or through the egress proxy: proxy.hpp), verifies TLS (system trust store + optional CA file, peer verification,
// host-name check, SNI), writes the request and reads the status, headers and at most
// `max_response_body` bytes of the body. Redirects are not followed: a 3xx is a response.
// What a result means for the delivery (delivered / retry / disable) is decided in one place,
// delivery/outcome.hpp, not here.
//
// Connections are kept alive and pooled per origin (scheme, host, port). A connection goes
// back to the pool only after a complete response whose body fitted the cap. A pooled
// connection the peer closed is detected before use, or, if the close races with our request,
// the request is sent once more on a fresh connection, but only when not one byte of a
// response was received (so the endpoint cannot have answered it).
//
//   http::client c(ioc, {.connect_timeout = 5s, .total_timeout = 15s});
//   auto body = std::make_shared<const std::string>(event_json);
//   http::request req{.url = ep.url, .body = body};
//   req.headers.add("webhook-id", id).add("webhook-signature", signature);
//   auto r = co_await c.post(std::move(req));
//   // or, for many posts to one URL: auto to = c.prepare(ep.url); co_await c.post(*to, headers, body);
//   if (r) log(r->status, r->body_snippet); else log(to_string(r.error().kind), r.error().message);
//
// `post` may run concurrently from many coroutines on the one thread that runs the client's
// io_context (each delivery shard has its own client); the client must outlive every `post`
// in flight. Timeouts are checked every tenth of the shortest one (5-100 ms), so a timeout
// ends within that much after it is due.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/address_guard.hpp"
#include "http/header_syntax.hpp"
#include "http/proxy.hpp"
#include "http/response.hpp"
#include "http/url.hpp"

#ifndef TRESSE_VERSION
#define TRESSE_VERSION "0.1.0"
#endif

namespace tresse::dispatcher::http {

struct client_options {
  // Per candidate address; the total below bounds all of them together.
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(5);
  // The whole attempt: DNS + connect + TLS + write + read.
  std::chrono::milliseconds total_timeout = std::chrono::seconds(15);
  // Body bytes kept for the attempt log; the rest is never read.
  std::size_t max_response_body = 4096;
  std::size_t max_response_header = 16 * 1024;  // status line and all fields
  std::size_t max_url_length = default_max_url_length;
  std::size_t max_idle_per_origin = 16;
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(30);
  // SSRF guard: true disables it (tests, the local try-out); allow_list holds CIDR ranges
  // permitted despite it.
  bool allow_private_networks = false;
  std::vector<std::string> allow_list;
  // Egress proxy (http/proxy.hpp): http://[user:password@]host:port, "" = connect directly.
  // no_proxy: host suffixes and CIDRs that go direct. proxy_resolves: the proxy is given target
  // names and resolves them itself, so the SSRF guard cannot check them (the proxy must filter);
  // by default the client resolves and checks them, and asks the proxy for the checked address.
  std::string proxy;
  std::vector<std::string> no_proxy;
  bool proxy_resolves = false;
  std::string ca_file;     // PEM CAs trusted besides the system store
  bool verify_tls = true;  // false only in tests; never a default
  std::string user_agent = "Tresse-Webhooks/" TRESSE_VERSION;
};

// Request header fields as they go on the wire ("name: value\r\n" each), checked as they are
// added, so that a post sends them without another copy or check. Host, Content-Length,
// Transfer-Encoding, Connection and User-Agent are the client's: the same names added here are
// skipped. A name that is not a token, or a value with CR, LF or NUL (a header split), makes the
// fields invalid, and post() refuses them (failure_kind::invalid_request) before connecting.
//
// A name known when compiling (`header_fields::known("webhook-id")`) is checked then, so that
// adding it checks only the value: the delivery's own fields go on every attempt.
class header_fields {
 public:
  class known {
   public:
    // Does not compile unless `name` is a token and not one of the client's own fields.
    consteval known(std::string_view name) : name_(name) {
      if (!is_token(name) || client_owned(name)) throw "not a header name a request may add";
    }
    std::string_view name() const { return name_; }

   private:
    std::string_view name_;
  };

  void reserve(std::size_t bytes) { wire_.reserve(bytes); }
  header_fields& add(std::string_view name, std::string_view value);
  header_fields& add(known name, std::string_view value);
  // Another set's fields after these (checked when they were added to it): an endpoint's own
  // headers, rendered once per change, go out on every attempt this way.
  header_fields& append(const header_fields& other) {
    if (invalid_.empty()) invalid_ = other.invalid_;
    wire_.append(other.wire_);
    return *this;
  }
  bool valid() const { return invalid_.empty(); }
  const std::string& invalid_name() const { return invalid_; }  // the first refused name
  std::string_view wire() const { return wire_; }

 private:
  // The fields the client writes itself: the same names added are skipped.
  static constexpr bool client_owned(std::string_view name) {
    using namespace std::string_view_literals;
    for (auto owned : {"host"sv, "content-length"sv, "transfer-encoding"sv, "connection"sv,
                       "user-agent"sv}) {
      if (iequals(name, owned)) return true;
    }
    return false;
  }
  void append_field(std::string_view name, std::string_view value);

  std::string wire_;
  std::string invalid_;
};

struct request {
  std::string url;
  header_fields headers;
  std::shared_ptr<const std::string> body;  // shared by every endpoint and attempt, not copied
};

class client_identity;  // http/client_identity.hpp

// A parsed URL with what every request to it repeats: the origin its connections are pooled
// by, and the request line with Host and User-Agent. Made once per endpoint URL
// (client::prepare) and used by any number of posts.
struct target {
  url parsed;
  std::string origin;  // with the client certificate's fingerprint when it has one
  std::shared_ptr<const client_identity> identity;  // mTLS: presented on its handshakes
  std::string head;  // "POST /path HTTP/1.1\r\nHost: ...\r\nUser-Agent: ...\r\n"
  // The whole attempt to this target, when not the client's total_timeout (0).
  std::chrono::milliseconds total_timeout{0};
  bool via_proxy = false;  // through client_options::proxy (its connections pooled apart)
};

enum class failure_kind {
  invalid_url,      // parse_url rejected it
  invalid_request,  // a header name or value with CR, LF or NUL
  dns,              // the host did not resolve
  blocked_address,  // every address is internal (SSRF guard)
  connect,          // refused, unreachable, reset during connect
  tls,              // handshake or certificate verification failed
  timeout,          // connect_timeout or total_timeout elapsed
  protocol,         // closed without a response, malformed or oversized response header
  cancelled,        // the caller cancelled the awaitable (shutdown)
  // Out of descriptors, buffers or memory here (EMFILE, ENFILE, ENOBUFS, ENOMEM): this
  // process's problem, never the endpoint's, so it counts against no circuit or attempt.
  local,
  // The egress proxy failed (unreachable, 407, its own 5xx to CONNECT: http/proxy.hpp): an
  // instance-level fault like `local`, never the endpoint's.
  proxy,
};
const char* to_string(failure_kind k);

struct failure {
  failure_kind kind = failure_kind::protocol;
  std::string message;             // for logs; names the address for blocked_address
  boost::system::error_code code;  // the underlying error, when there is one
};

struct client_stats {
  std::uint64_t connections_opened = 0;
  std::uint64_t connections_reused = 0;
  std::uint64_t stale_retries = 0;  // requests re-sent after a pooled connection died
  std::size_t idle_connections = 0;
};

// The TLS settings every client of a process can share (trust store, verification, minimum
// version): loading the system CA store costs ~0.5 G instructions and a few MB, so the delivery
// shards load it once. Throws std::invalid_argument when the CA file cannot be loaded.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const client_options& options);

// The timeouts of a client's posts (defined in client.cpp).
class deadline_watchdog;
struct deadline_watch;

class client {
 public:
  // Throws std::invalid_argument (start-up only) when an allow-list entry is not a CIDR, the
  // proxy or a no_proxy entry is malformed, or the CA file cannot be loaded. `tls` from make_tls_context(options), or null to make one.
  client(boost::asio::io_context& ioc, client_options options,
         std::shared_ptr<boost::asio::ssl::context> tls = nullptr);
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // One attempt. Never throws; see failure_kind for the errors.
  boost::asio::awaitable<std::expected<response, failure>> post(request req);
  // The same to a prepared target; `to`, `headers` and `body` must outlive the call.
  boost::asio::awaitable<std::expected<response, failure>> post(const target& to,
                                                                const header_fields& headers,
                                                                std::string_view body);
  // Parses `url` (failure_kind::invalid_url when it is not one the client can post to). With
  // an identity, its connections present that client certificate and are pooled apart.
  std::expected<target, failure> prepare(
      std::string_view url, std::shared_ptr<const client_identity> identity = nullptr) const;

  client_stats stats() const;
  const client_options& options() const { return options_; }

 private:
  struct connection;
  struct pool;

  boost::asio::awaitable<std::expected<std::unique_ptr<connection>, failure>> connect(
      const target& to, std::chrono::steady_clock::time_point deadline, deadline_watch& watch);
  // A TCP connection to `endpoint` within connect_timeout; the failure when there is none.
  boost::asio::awaitable<std::optional<failure>> open(connection& conn,
                                                      const boost::asio::ip::tcp::endpoint& endpoint,
                                                      std::chrono::steady_clock::time_point deadline,
                                                      deadline_watch& watch);
  // TLS to the target over conn's TCP connection (direct, or a proxy's tunnel).
  boost::asio::awaitable<std::optional<failure>> handshake(connection& conn, const target& to,
                                                           deadline_watch& watch);
  // Through the proxy: TCP to it, then for https a CONNECT to `authority` and TLS inside.
  boost::asio::awaitable<std::expected<std::unique_ptr<connection>, failure>> connect_via_proxy(
      const target& to, const std::string& authority,
      std::chrono::steady_clock::time_point deadline, deadline_watch& watch);

  boost::asio::io_context& ioc_;
  client_options options_;
  address_guard guard_;
  std::optional<proxy> proxy_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::shared_ptr<pool> pool_;
  std::shared_ptr<deadline_watchdog> watchdog_;
  std::atomic<std::uint64_t> opened_{0};
  std::atomic<std::uint64_t> reused_{0};
  std::atomic<std::uint64_t> stale_retries_{0};
};

}  // namespace tresse::dispatcher::http
