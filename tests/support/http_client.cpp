#include "support/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <stdexcept>

namespace tresse::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

std::string http_reply::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (beast::iequals(k, name)) return v;
  }
  return "";
}

// Async operations run to completion on a private io_context: the only way to put a deadline
// on each step with Beast.
struct http_client::impl {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  std::string host;
  std::chrono::milliseconds timeout;

  void run(const char* what, beast::error_code& ec) {
    ioc.restart();
    ioc.run();
    if (ec) throw std::runtime_error(std::string("http_client: ") + what + ": " + ec.message());
  }
};

http_client::http_client(const std::string& host, std::uint16_t port,
                         std::chrono::milliseconds timeout)
    : impl_(std::make_unique<impl>()) {
  impl_->host = host + ":" + std::to_string(port);
  impl_->timeout = timeout;
  asio::ip::tcp::endpoint endpoint(asio::ip::make_address(host), port);
  beast::error_code ec;
  impl_->stream.expires_after(timeout);
  impl_->stream.async_connect(endpoint, [&](beast::error_code e) { ec = e; });
  impl_->run("connect", ec);
}

http_client::~http_client() = default;

http_reply http_client::request(std::string_view method, std::string_view target,
                                const http_headers& headers, std::string_view body) {
  bhttp::request<bhttp::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  bool has_type = false;
  for (const auto& [name, value] : headers) {
    req.insert(name, value);
    has_type = has_type || beast::iequals(name, "content-type");
  }
  if (req.find(bhttp::field::host) == req.end()) req.set(bhttp::field::host, impl_->host);
  if (!body.empty() && !has_type) req.set(bhttp::field::content_type, "application/json");
  req.body() = std::string(body);
  req.prepare_payload();

  beast::error_code ec;
  impl_->stream.expires_after(impl_->timeout);
  bhttp::async_write(impl_->stream, req, [&](beast::error_code e, std::size_t) { ec = e; });
  impl_->run("write", ec);
  return read_reply(beast::iequals(method, "HEAD"));
}

void http_client::write_raw(std::string_view bytes) {
  beast::error_code ec;
  impl_->stream.expires_after(impl_->timeout);
  asio::async_write(impl_->stream, asio::buffer(bytes.data(), bytes.size()),
                    [&](beast::error_code e, std::size_t) { ec = e; });
  impl_->run("write", ec);
}

http_reply http_client::read_reply(bool to_head) {
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  parser.skip(to_head);
  beast::error_code ec;
  impl_->stream.expires_after(impl_->timeout);
  bhttp::async_read(impl_->stream, impl_->buffer, parser,
                    [&](beast::error_code e, std::size_t) { ec = e; });
  impl_->run("read", ec);
  auto res = parser.release();
  http_reply reply;
  reply.status = res.result_int();
  for (const auto& field : res) {
    reply.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  reply.body = std::move(res.body());
  reply.keep_alive = res.keep_alive();
  return reply;
}

bool http_client::closed_by_peer(std::chrono::milliseconds wait) {
  char byte;
  beast::error_code ec;
  std::size_t n = 0;
  impl_->stream.expires_after(wait);
  impl_->stream.async_read_some(asio::buffer(&byte, 1), [&](beast::error_code e, std::size_t r) {
    ec = e;
    n = r;
  });
  impl_->ioc.restart();
  impl_->ioc.run();
  return n == 0 && (ec == asio::error::eof || ec == asio::error::connection_reset);
}

}  // namespace tresse::test
