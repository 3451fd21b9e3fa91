#include "admin/probe.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <optional>

#include "config/config.hpp"

namespace tresse::dispatcher::admin {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

constexpr std::string_view usage =
    "usage: tresse-dispatcher healthcheck [--address HOST:PORT] [--path /readyz] [--timeout 3s]\n"
    "  GET the admin endpoint's PATH; exit 0 on 200, 1 otherwise (refused, 503, timeout).\n"
    "  --address  default: $TRESSE_ADMIN_LISTEN, else 127.0.0.1:9464 (0.0.0.0 and :: are\n"
    "             probed on loopback)\n";

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

// "3s", "500ms": the config's duration syntax, through its parser.
std::optional<std::chrono::milliseconds> parse_timeout(const std::string& text) {
  config c;
  try {
    set_value(c, "delivery.timeout", text);
  } catch (const config_error&) {
    return std::nullopt;
  }
  return c.delivery.timeout;
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

int run_healthcheck_command(int argc, char** argv) {
  probe_options o;
  const char* env = std::getenv("TRESSE_ADMIN_LISTEN");
  std::string address = env && *env ? env : "127.0.0.1:9464";
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << usage;
      return 0;
    }
    std::optional<std::string> value;
    std::string_view flag = arg;
    if (const auto eq = arg.find('='); eq != std::string_view::npos && arg.starts_with("--")) {
      flag = arg.substr(0, eq);
      value = std::string(arg.substr(eq + 1));
    } else if (i + 1 < argc) {
      value = argv[++i];
    }
    if (flag != "--address" && flag != "--path" && flag != "--timeout") {
      std::cerr << "healthcheck: unknown argument " << arg << "\n" << usage;
      return 2;
    }
    if (!value) {
      std::cerr << "healthcheck: " << flag << " needs a value\n" << usage;
      return 2;
    }
    if (flag == "--address") {
      address = *value;
    } else if (flag == "--path") {
      if (!value->starts_with('/')) {
        std::cerr << "healthcheck: --path must start with /\n";
        return 2;
      }
      o.path = *value;
    } else {
      const auto t = parse_timeout(*value);
      if (!t) {
        std::cerr << "healthcheck: --timeout must be a duration such as 3s or 500ms\n";
        return 2;
      }
      o.timeout = *t;
    }
  }
  try {
    const auto a = parse_listen_address(address);
    o.host = a.host == "0.0.0.0" ? "127.0.0.1" : a.host == "::" ? "::1" : a.host;
    o.port = a.port;
  } catch (const config_error& e) {
    std::cerr << "healthcheck: " << e.what() << "\n";
    return 2;
  }
  auto answer = probe(o);
  if (!answer) {
    std::cerr << "healthcheck: " << o.path << " on " << to_string(listen_address{o.host, o.port})
              << ": " << answer.error().message << "\n";
    return 1;
  }
  std::cout << answer->body;
  if (!answer->body.ends_with('\n')) std::cout << '\n';
  return answer->status == 200 ? 0 : 1;
}

}  // namespace tresse::dispatcher::admin
