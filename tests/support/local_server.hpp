// A small HTTP/1.1 server (optionally TLS) for tests: real sockets on 127.0.0.1, port 0, on
// its own thread. Shared by the HTTP client's tests and the end-to-end ones (HTTPS endpoints).
//
//   tresse::test::test_pki pki;                                   // support/test_pki.hpp
//   tresse::test::local_server server({}, pki.server_context("DNS:localhost"));
//   ... POST to server.url("/hook", "localhost") ...
//   server.requests()[0].headers["webhook-id"];
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace tresse::test {

namespace local_server_detail {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// It records every request and answers as the handler says, including the misbehaviours the
// client must survive: closing, hanging, dropping a request unanswered.
class local_server {
 public:
  struct received {
    std::string method;
    std::string target;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    int connection = 0;     // 1-based, in accept order
    int index_on_conn = 0;  // 1-based request number on that connection
  };
  struct reply {
    enum class then { keep_alive, close, hang, drop };
    unsigned status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body = "ok";
    then mode = then::keep_alive;  // close: answer, then close without "Connection: close"
  };
  using handler = std::function<reply(const received&)>;

  explicit local_server(handler h = {}, std::shared_ptr<ssl::context> tls = nullptr)
      : handler_(h ? std::move(h) : [](const received&) { return reply{}; }),
        tls_(std::move(tls)),
        acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~local_server() {
    ioc_.stop();
    thread_.join();
  }

  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  std::string url(const std::string& path = "/hook", const std::string& host = "127.0.0.1") const {
    return std::string(tls_ ? "https://" : "http://") + host + ":" + std::to_string(port()) + path;
  }
  int connections() const { return connections_.load(); }
  int open_connections() const { return open_.load(); }
  std::vector<received> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  // The CN of the client certificate of each TLS connection ("" without one).
  std::vector<std::string> client_names() const {
    std::lock_guard lock(mu_);
    return client_names_;
  }
  std::vector<std::string> server_names() const {
    std::lock_guard lock(mu_);
    return server_names_;
  }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
      if (ec) co_return;
      const int id = ++connections_;
      ++open_;
      asio::co_spawn(ioc_, session(std::move(socket), id), asio::detached);
    }
  }

  asio::awaitable<void> session(tcp::socket socket, int id) {
    {
      beast::tcp_stream plain(std::move(socket));
      if (tls_) {
        beast::ssl_stream<beast::tcp_stream> stream(std::move(plain), *tls_);
        auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
        if (!ec) {
          const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
          std::string client_cn;
          if (X509* peer = SSL_get1_peer_certificate(stream.native_handle())) {
            char cn[256] = "";
            X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
            client_cn = cn;
            X509_free(peer);
          }
          {
            std::lock_guard lock(mu_);
            server_names_.push_back(sni ? sni : "");
            client_names_.push_back(client_cn);
          }
          co_await serve(stream, id);
        }
      } else {
        co_await serve(plain, id);
      }
    }
    --open_;
  }

  template <class Stream>
  asio::awaitable<void> serve(Stream& stream, int id) {
    beast::flat_buffer buffer;
    for (int n = 1;; ++n) {
      bhttp::request<bhttp::string_body> req;
      auto [ec, bytes] = co_await bhttp::async_read(stream, buffer, req, use_tuple);
      if (ec) co_return;
      received r{
          std::string(req.method_string()), std::string(req.target()), {}, req.body(), id, n};
      for (const auto& f : req) {
        std::string name(f.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        r.headers[name] = std::string(f.value());
      }
      {
        std::lock_guard lock(mu_);
        requests_.push_back(r);
      }
      const reply rep = handler_(r);
      if (rep.mode == reply::then::drop) co_return;
      if (rep.mode == reply::then::hang) {
        char c;
        for (;;) {  // until the client gives up and closes
          auto [rec, got] = co_await stream.async_read_some(asio::buffer(&c, 1), use_tuple);
          if (rec) co_return;
        }
      }
      bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(rep.status), 11};
      for (const auto& [name, value] : rep.headers) res.set(name, value);
      res.body() = rep.body;
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      auto [wec, written] = co_await bhttp::async_write(stream, res, use_tuple);
      if (wec || rep.mode == reply::then::close || !res.keep_alive()) co_return;
    }
  }

  handler handler_;
  std::shared_ptr<ssl::context> tls_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<int> connections_{0};
  std::atomic<int> open_{0};
  mutable std::mutex mu_;
  std::vector<received> requests_;
  std::vector<std::string> server_names_;
  std::vector<std::string> client_names_;
};

}  // namespace local_server_detail

using local_server = local_server_detail::local_server;

}  // namespace tresse::test
