#include "http/proxy.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <cctype>

#include "http/client.hpp"
#include "http/header_syntax.hpp"
#include "registry/secret_box.hpp"
#include "tresse/common/percent_encoding.hpp"

namespace tresse::dispatcher::http {
namespace {

tresse::result<proxy> invalid(std::string why) {
  return tresse::fail(tresse::error_kind::permanent, "invalid proxy URL: " + why);
}

}  // namespace

tresse::result<proxy> proxy::parse(std::string_view text, const std::vector<std::string>& no_proxy) {
  // The user-info is taken off first, so that the URL parser (which refuses it, and whose
  // messages could quote it) only ever sees the rest.
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos || ascii_lower(text.substr(0, scheme_end)) != "http") {
    return invalid("must be http://[user:password@]host:port");
  }
  std::string_view rest = text.substr(scheme_end + 3);
  std::string_view userinfo;
  const auto authority_end = rest.find_first_of("/?#");
  if (const auto at = rest.substr(0, authority_end).rfind('@'); at != std::string_view::npos) {
    userinfo = rest.substr(0, at);
    rest.remove_prefix(at + 1);
  }
  const auto path = rest.find_first_of("/?#");
  if (path != std::string_view::npos && rest.substr(path) != "/") {
    return invalid("must be http://[user:password@]host:port, without a path");
  }
  const auto hostport = rest.substr(0, path);
  const bool has_port = hostport.starts_with('[') ? hostport.find("]:") != std::string_view::npos
                                                  : hostport.find(':') != std::string_view::npos;
  if (!has_port) return invalid("the port is required (http://host:port)");
  auto u = parse_url("http://" + std::string(hostport) + "/");
  if (!u) return invalid(u.error().message);

  proxy p;
  p.host_ = u->host;
  p.host_is_ip_ = u->host_is_ip;
  p.port_ = u->port;
  if (!userinfo.empty()) {
    const auto colon = userinfo.find(':');
    auto user = percent_decode(userinfo.substr(0, colon));
    auto password = percent_decode(colon == std::string_view::npos ? std::string_view{}
                                                                   : userinfo.substr(colon + 1));
    if (!user || !password) return invalid("malformed percent-encoding in the user-info");
    if (user->find(':') != std::string::npos) return invalid("the user name may not contain ':'");
    const bool clean = std::none_of(user->begin(), user->end(), [](char c) { return c < 0x20; }) &&
                       std::none_of(password->begin(), password->end(), [](char c) { return c < 0x20; });
    if (!clean) return invalid("control characters in the user-info");
    p.authorization_field_ =
        "Proxy-Authorization: Basic " + registry::base64_encode(*user + ":" + *password) + "\r\n";
  }
  for (const auto& entry : no_proxy) {
    if (auto why = p.add_no_proxy(entry)) return tresse::fail(tresse::error_kind::permanent, *why);
  }
  return p;
}

std::optional<std::string> proxy::add_no_proxy(std::string_view entry) {
  if (entry.empty()) return "invalid no_proxy entry: empty";
  const bool numeric = entry.find_first_not_of("0123456789abcdefABCDEF.:/") == std::string::npos &&
                       (entry.find(':') != std::string::npos ||
                        std::count(entry.begin(), entry.end(), '.') == 3);
  if (numeric) {
    auto range = cidr::parse(entry);
    if (!range) return "invalid no_proxy entry: " + range.error().message;
    ranges_.push_back(*range);
    return std::nullopt;
  }
  std::string suffix = ascii_lower(entry.starts_with('.') ? entry.substr(1) : entry);
  const bool name = !suffix.empty() && std::all_of(suffix.begin(), suffix.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
  if (!name) {
    return "invalid no_proxy entry \"" + std::string(entry) + "\": a host suffix or a CIDR";
  }
  suffixes_.push_back(std::move(suffix));
  return std::nullopt;
}

std::optional<std::string> proxy::no_proxy_problem(std::string_view entry) {
  proxy scratch;
  return scratch.add_no_proxy(entry);
}

bool proxy::bypasses(const url& target) const {
  if (target.host_is_ip) {
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(target.host, ec);
    if (ec) return false;
    return std::any_of(ranges_.begin(), ranges_.end(),
                       [&](const cidr& r) { return r.contains(address); });
  }
  return std::any_of(suffixes_.begin(), suffixes_.end(), [&](const std::string& s) {
    const std::string_view host = target.host;
    return host == s || (host.size() > s.size() && host.ends_with(s) &&
                         host[host.size() - s.size() - 1] == '.');
  });
}

std::string proxy::address() const {
  return (host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_) + ":" +
         std::to_string(port_);
}

std::string proxy::connect_request(std::string_view authority) const {
  std::string out;
  out.reserve(64 + 2 * authority.size() + authorization_field_.size());
  out.append("CONNECT ").append(authority).append(" HTTP/1.1\r\nHost: ").append(authority);
  out.append("\r\n").append(authorization_field_).append("\r\n");
  return out;
}

std::optional<failure_kind> proxy_answer_kind(unsigned status) {
  if (status / 100 == 2) return std::nullopt;
  if (status == 502 || status == 504) return failure_kind::connect;
  if (status == 407 || status / 100 == 5) return failure_kind::proxy;
  return failure_kind::connect;
}

boost::asio::awaitable<proxy_reply> read_proxy_reply(boost::asio::ip::tcp::socket& socket,
                                                     std::size_t max_header) {
  namespace bhttp = boost::beast::http;
  proxy_reply out;
  boost::beast::flat_buffer buffer(max_header + 1);
  bhttp::response_parser<bhttp::empty_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(max_header));
  parser.skip(true);  // an answer to CONNECT has no body (RFC 9110 9.3.6)
  auto [ec, n] = co_await bhttp::async_read_header(
      socket, buffer, parser, boost::asio::as_tuple(boost::asio::use_awaitable));
  if (ec) {
    out.ec = ec;
    // Beast's own errors (a malformed or oversized header, a close before the answer) are the
    // proxy's; network errors are classified by the caller like any other.
    if (ec.category() == bhttp::make_error_code(bhttp::error::header_limit).category()) {
      out.error = "the proxy's answer to CONNECT: " + ec.message();
      out.ec = {};
    }
    co_return out;
  }
  out.status = parser.get().result_int();
  if (out.status / 100 == 2 && buffer.size() > 0) {
    out.error = "the proxy sent bytes after its answer to CONNECT";
  }
  co_return out;
}

}  // namespace tresse::dispatcher::http

namespace tresse::dispatcher::http {

void proxy_health::worked(std::chrono::steady_clock::time_point now) {
  last_worked_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
}

void proxy_health::failed(std::chrono::steady_clock::time_point now) {
  last_failed_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
}

bool proxy_health::failing(std::chrono::steady_clock::time_point now,
                           std::chrono::steady_clock::duration memory) const {
  const auto failed_at = last_failed_.load(std::memory_order_relaxed);
  if (failed_at == 0 || last_worked_.load(std::memory_order_relaxed) > failed_at) return false;
  return now.time_since_epoch().count() - failed_at < memory.count();
}

bool proxy_reachable(const proxy& p, std::chrono::milliseconds timeout) {
  namespace asio = boost::asio;
  asio::io_context ioc;
  asio::ip::tcp::resolver resolver(ioc);
  asio::ip::tcp::socket socket(ioc);
  bool connected = false;
  resolver.async_resolve(p.host(), std::to_string(p.port()),
                         [&](boost::system::error_code ec, asio::ip::tcp::resolver::results_type r) {
                           if (ec) return;
                           asio::async_connect(socket, r, [&](boost::system::error_code cec,
                                                              const asio::ip::tcp::endpoint&) {
                             connected = !cec;
                           });
                         });
  ioc.run_for(timeout);
  return connected;
}

}  // namespace tresse::dispatcher::http
