#include "http/url.hpp"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cctype>
#include <charconv>

#include "http/header_syntax.hpp"

namespace tresse::dispatcher::http {
namespace {

bool is_hostname_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

// Visible ASCII only: no spaces, controls (CR/LF) or raw UTF-8 in the request line.
bool is_target_char(char c) { return c > 0x20 && c < 0x7F; }

}  // namespace

std::string url::origin() const {
  return std::string(tls ? "https://" : "http://") + host_header() + ":" + std::to_string(port);
}

std::string url::host_header() const {
  const bool v6 = host.find(':') != std::string::npos;
  std::string h = v6 ? "[" + host + "]" : host;
  if (port != (tls ? 443 : 80)) h += ":" + std::to_string(port);
  return h;
}

tresse::result<url> parse_url(std::string_view text, std::size_t max_length) {
  auto invalid = [](std::string why) {
    return tresse::fail(tresse::error_kind::permanent, "invalid URL: " + why);
  };
  if (text.size() > max_length) {
    return invalid("longer than " + std::to_string(max_length) + " characters");
  }
  if (!std::all_of(text.begin(), text.end(), is_target_char)) {
    return invalid("contains whitespace, control or non-ASCII characters");
  }

  url u;
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return invalid("no scheme");
  const auto scheme = ascii_lower(text.substr(0, scheme_end));
  if (scheme == "https") {
    u.tls = true;
  } else if (scheme != "http") {
    return invalid("scheme must be http or https");
  }
  auto rest = text.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find('#'));
  const auto authority_end = rest.find_first_of("/?");
  const auto authority = rest.substr(0, authority_end);
  const auto target =
      authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) return invalid("user-info is not allowed");

  std::string_view host;
  std::string_view port;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return invalid("unterminated IPv6 literal");
    host = authority.substr(1, close - 1);
    const auto after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) return invalid("garbage after IPv6 literal");
    if (!after.empty()) port = after.substr(1);
    boost::system::error_code ec;
    boost::asio::ip::make_address_v6(std::string(host), ec);
    if (ec) return invalid("bad IPv6 literal");
    u.host_is_ip = true;
  } else {
    const auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    if (!std::all_of(host.begin(), host.end(), is_hostname_char)) {
      return invalid("host must be a DNS name (punycode) or an IP literal");
    }
    boost::system::error_code ec;
    boost::asio::ip::make_address_v4(std::string(host), ec);
    u.host_is_ip = !ec;
  }
  if (host.empty()) return invalid("no host");
  u.host = ascii_lower(host);

  u.port = u.tls ? 443 : 80;
  if (!port.empty()) {
    unsigned value = 0;
    const auto [end, err] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (err != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
      return invalid("bad port");
    }
    u.port = static_cast<std::uint16_t>(value);
  }

  u.target = target.starts_with('/') ? std::string(target) : "/" + std::string(target);
  return u;
}

}  // namespace tresse::dispatcher::http
