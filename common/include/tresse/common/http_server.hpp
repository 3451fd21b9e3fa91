// A small HTTP/1.1 server on Boost.Beast: the `tresse-webhook listen` sink, the dispatcher's
// admin and management API, and the HTTP endpoints of delivery tests all run on it.
//
// Each connection is one C++20 coroutine on the server's own io_context thread(s): read a
// request, co_await the handler, write the response, repeat while the client keeps the
// connection alive. Requests on one connection are answered strictly in order, so pipelining
// clients are safe. Every wait has a deadline (enforced to within a quarter of the shortest
// timeout, by one sweeper timer): `idle_timeout` for a request's first byte, then
// `header_timeout` for its whole header, `read_timeout` for its body, `write_timeout` for the
// answer; each bounds the whole step, so trickling bytes does not extend it (slowloris). A
// listener at `max_connections` refuses new connections, or with `close_idle_when_full` closes
// its longest-idle one (waiting for a request's first byte) to let the new one in; a request
// body over `body_limit` is answered 413,
// oversized headers 431, a malformed request 400, and those connections are closed. `stop()` closes
// the listening socket and idle connections, lets requests already being handled finish (up to
// `drain_timeout`), then joins the threads.
//
//   tresse::http::server_options options{.port = 0};
//   auto srv = tresse::http::server::start(options, [](tresse::http::request& req)
//       -> boost::asio::awaitable<tresse::http::response> {
//     tresse::http::response res{boost::beast::http::status::ok, req.version()};
//     res.set(boost::beast::http::field::content_type, "text/plain");
//     res.body() = "hello";
//     co_return res;
//   });
//   if (!srv) { /* srv.error().message, e.g. "bind 127.0.0.1:80: Permission denied" */ }
//   std::uint16_t port = srv->port();
//   ...
//   srv->stop();
//
// The server fills in the response's version, keep-alive and Content-Length; the handler only
// sets status, headers and body. A handler that throws gets a 500 (handlers should not throw).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "tresse/common/result.hpp"

namespace tresse::http {

using request = boost::beast::http::request<boost::beast::http::string_body>;
using response = boost::beast::http::response<boost::beast::http::string_body>;

// Called once per request, on one of the server's threads; may co_await (timers, clients).
// Several connections call it concurrently when `threads` > 1.
using handler = std::function<boost::asio::awaitable<response>(request&)>;

// Called when a request's headers were read but its body was refused (413, body over
// `body_limit`), with those headers and the standard answer, which it may amend (add headers);
// the connection still closes after it.
using rejection_handler = std::function<boost::asio::awaitable<void>(const request&, response&)>;

struct server_options {
  std::string host = "127.0.0.1";        // address to bind; "0.0.0.0" or "::" for every interface
  std::uint16_t port = 0;                // 0: an ephemeral port, see server::port()
  std::size_t threads = 1;               // io_context threads
  std::string thread_name = "http";      // they are named "<thread_name>-<i>" (thread_name.hpp)
  std::size_t body_limit = 1024 * 1024;  // larger request bodies are answered 413
  std::size_t header_limit = 16 * 1024;  // larger request headers are answered 431
  // Between requests on a keep-alive connection (and after connecting), before the first byte of
  // the next one.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  // From a request's first byte to the end of its header, whatever the idle timeout.
  std::chrono::milliseconds header_timeout{std::chrono::seconds(10)};
  // Reading a request's whole body once its header arrived, and writing one response.
  std::chrono::milliseconds read_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds write_timeout{std::chrono::seconds(30)};
  // How long stop() waits for requests in progress before cutting them off.
  std::chrono::milliseconds drain_timeout{std::chrono::seconds(5)};
  // When set, every request carries this header with the peer's IP address (a copy sent by the
  // client is replaced), so a handler can tell clients apart.
  std::string peer_header;
  rejection_handler on_rejected;  // optional
  // Connections open at once, at most (0: no cap). One more is accepted and closed at once, so
  // a flood of connections cannot take every file descriptor of the process.
  std::size_t max_connections = 0;
  // At the cap, close the connection idle the longest (no request in progress) to admit a new
  // one, rather than refusing it; only when every connection is mid-request is it refused. So a
  // flood of idle connections cannot lock probes or clients out until the idle timeout.
  bool close_idle_when_full = false;
};

class server {
 public:
  // Binds, listens and starts the threads. Fails (permanent) when the address does not resolve
  // or cannot be bound. An empty handler is an error too.
  static result<server> start(server_options options, handler h);

  server(server&&) noexcept;
  server& operator=(server&&) noexcept;
  ~server();  // stop()

  // The bound port (the ephemeral one when options.port was 0).
  std::uint16_t port() const noexcept;

  // Graceful stop, idempotent; blocks until the threads have ended. Must not be called from a
  // handler (it would wait for itself).
  void stop();

  // Requests answered so far (all statuses), for tests and metrics.
  std::uint64_t requests_served() const noexcept;

 private:
  struct impl;
  explicit server(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace tresse::http
