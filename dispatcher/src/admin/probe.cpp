#include "admin/probe.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <exception>

namespace tresse::dispatcher::admin {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

asio::awaitable<void> exchange(const probe_options& o, probe_answer& out) {
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  const std::string port = std::to_string(o.port);
  auto endpoints = co_await resolver.async_resolve(o.host, port, asio::use_awaitable);
  beast::tcp_stream stream(ex);
  stream.expires_after(o.timeout);
  co_await stream.async_connect(endpoints, asio::use_awaitable);
  bhttp::request<bhttp::empty_body> req{bhttp::verb::get, o.path, 11};
  const bool v6 = o.host.find(':') != std::string::npos;
  req.set(bhttp::field::host, (v6 ? "[" + o.host + "]" : o.host) + ":" + port);
  req.set(bhttp::field::user_agent, "tresse-dispatcher-healthcheck");
  req.set(bhttp::field::connection, "close");
  co_await bhttp::async_write(stream, req, asio::use_awaitable);
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024);
  co_await bhttp::async_read(stream, buffer, parser, asio::use_awaitable);
  out.status = parser.get().result_int();
  out.body = parser.get().body();
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

}  // namespace

result<probe_answer> probe(const probe_options& options) {
  asio::io_context ioc;
  probe_answer answer;
  std::exception_ptr failure;
  bool done = false;
  asio::co_spawn(ioc, exchange(options, answer), [&](std::exception_ptr e) {
    failure = e;
    done = true;
  });
  // The stream's own deadline covers connect, write and read; this one covers the resolver too.
  ioc.run_for(options.timeout + std::chrono::milliseconds(200));
  if (!done) return fail(error_kind::transient, "no answer within the timeout");
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const boost::system::system_error& e) {
      return fail(error_kind::transient, e.code().message());
    } catch (const std::exception& e) {
      return fail(error_kind::transient, e.what());
    }
  }
  return answer;
}

}  // namespace tresse::dispatcher::admin
