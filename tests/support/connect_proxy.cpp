#include "support/connect_proxy.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <memory>
#include <string_view>

namespace tresse::test {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxHead = 16 * 1024;

// The value of a header field in `head` (case-insensitive name), or "".
std::string field(std::string_view head, std::string_view name) {
  std::size_t at = head.find("\r\n");
  while (at != std::string_view::npos && at + 2 < head.size()) {
    const auto line_end = head.find("\r\n", at + 2);
    const auto line = head.substr(at + 2, line_end - at - 2);
    const auto colon = line.find(':');
    if (colon == name.size()) {
      bool same = true;
      for (std::size_t i = 0; i < colon; ++i) {
        same = same && std::tolower(static_cast<unsigned char>(line[i])) ==
                           std::tolower(static_cast<unsigned char>(name[i]));
      }
      if (same) {
        auto value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        return std::string(value);
      }
    }
    at = line_end;
  }
  return {};
}

// Copies `from` to `to` until either side closes, then shuts `to` down for writing.
asio::awaitable<void> pipe(std::shared_ptr<tcp::socket> from, std::shared_ptr<tcp::socket> to) {
  char buf[8192];
  for (;;) {
    auto [ec, n] = co_await from->async_read_some(asio::buffer(buf), use_tuple);
    if (n > 0) {
      auto [wec, written] = co_await asio::async_write(*to, asio::buffer(buf, n), use_tuple);
      if (wec) break;
    }
    if (ec) break;
  }
  boost::system::error_code ignored;
  to->shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace

struct connect_proxy::impl {
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc, {asio::ip::make_address("127.0.0.1"), 0}};

  asio::awaitable<void> accept_loop(connect_proxy& self) {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
      if (ec) co_return;
      ++self.connections_;
      asio::co_spawn(ioc, session(self, std::make_shared<tcp::socket>(std::move(socket))),
                     asio::detached);
    }
  }

  asio::awaitable<void> answer(tcp::socket& client, unsigned status, std::string_view extra = {}) {
    std::string bytes = "HTTP/1.1 " + std::to_string(status) + " Proxy Says No\r\n" +
                        std::string(extra) + "Content-Length: 0\r\nConnection: close\r\n\r\n";
    co_await asio::async_write(client, asio::buffer(bytes), use_tuple);
  }

  asio::awaitable<void> session(connect_proxy& self, std::shared_ptr<tcp::socket> client) {
    std::string in;
    char buf[4096];
    std::size_t head_end = 0;
    while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
      if (in.size() > kMaxHead) co_return;
      auto [ec, n] = co_await client->async_read_some(asio::buffer(buf), use_tuple);
      if (ec) co_return;
      in.append(buf, n);
    }
    const std::string head = in.substr(0, head_end + 2);
    const std::string line = head.substr(0, head.find("\r\n"));
    const std::string authorization = field(head, "proxy-authorization");
    self.record(line, authorization);
    if (const unsigned refuse = self.refuse_with_.load(); refuse != 0) {
      co_await answer(*client, refuse);
      co_return;
    }
    if (!self.options_.required_authorization.empty() &&
        authorization != self.options_.required_authorization) {
      co_await answer(*client, 407, "Proxy-Authenticate: Basic realm=\"test\"\r\n");
      co_return;
    }
    // "METHOD TARGET HTTP/1.1"
    const auto sp1 = line.find(' ');
    const auto sp2 = line.rfind(' ');
    const std::string method = line.substr(0, sp1);
    std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string authority;
    std::string forwarded;  // the bytes to send upstream first
    if (method == "CONNECT") {
      authority = target;
    } else {
      // http://host:port/path → host:port, and the request in origin form.
      if (!target.starts_with("http://")) {
        co_await answer(*client, 400);
        co_return;
      }
      const auto path = target.find('/', 7);
      authority = target.substr(7, path - 7);
      const std::string origin_form = path == std::string::npos ? "/" : target.substr(path);
      forwarded = method + " " + origin_form + line.substr(sp2) + in.substr(line.size());
    }
    const auto colon = authority.rfind(':');
    std::string host = authority.substr(0, colon);
    if (host.starts_with('[')) host = host.substr(1, host.size() - 2);
    const std::string port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
    tcp::resolver resolver(ioc);
    auto [rec, results] = co_await resolver.async_resolve(host, port, use_tuple);
    auto upstream = std::make_shared<tcp::socket>(ioc);
    boost::system::error_code cec = rec;
    if (!rec) {
      auto [ec, endpoint] = co_await asio::async_connect(*upstream, results, use_tuple);
      cec = ec;
    }
    if (cec) {
      co_await answer(*client, 502);
      co_return;
    }
    if (method == "CONNECT") {
      ++self.connects_;
      const std::string ok = "HTTP/1.1 200 Connection established\r\n\r\n";
      auto [wec, n] = co_await asio::async_write(*client, asio::buffer(ok), use_tuple);
      if (wec) co_return;
      forwarded = in.substr(head_end + 4);  // nothing, unless the client did not wait
    } else {
      ++self.forwards_;
    }
    if (!forwarded.empty()) {
      auto [wec, n] = co_await asio::async_write(*upstream, asio::buffer(forwarded), use_tuple);
      if (wec) co_return;
    }
    // Later requests on a forwarded connection go to the same upstream unchanged: the client
    // pools its proxy connections per target, so that is where they are meant to go (in
    // absolute form, which the test sinks accept).
    asio::co_spawn(ioc, pipe(upstream, client), asio::detached);
    co_await pipe(client, upstream);
  }
};

connect_proxy::connect_proxy(connect_proxy_options options)
    : options_(std::move(options)), impl_(std::make_unique<impl>()) {
  refuse_with_ = options_.refuse_with;
  port_ = impl_->acceptor.local_endpoint().port();
  asio::co_spawn(impl_->ioc, impl_->accept_loop(*this), asio::detached);
  thread_ = std::thread([this] { impl_->ioc.run(); });
}

connect_proxy::~connect_proxy() {
  impl_->ioc.stop();
  thread_.join();
}

void connect_proxy::record(std::string line, std::string authorization) {
  std::lock_guard lock(mu_);
  lines_.push_back(std::move(line));
  authorizations_.push_back(std::move(authorization));
}

std::vector<std::string> connect_proxy::request_lines() const {
  std::lock_guard lock(mu_);
  return lines_;
}

std::vector<std::string> connect_proxy::authorizations() const {
  std::lock_guard lock(mu_);
  return authorizations_;
}

}  // namespace tresse::test
