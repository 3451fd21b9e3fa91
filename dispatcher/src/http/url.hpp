// Webhook URL parsing: just what the HTTP client needs, strictly.
//
//   auto u = parse_url("https://hooks.example.com/tresse?src=1");
//   // u->tls, u->host == "hooks.example.com", u->port == 443, u->target == "/tresse?src=1"
//
// Accepted: http and https, a DNS name or IP literal host ("[::1]" for IPv6), an optional
// port, a path and a query; the fragment is dropped. Rejected: user-info ("user:pw@"),
// non-ASCII or percent-encoded hosts (use punycode), whitespace and control characters
// anywhere (no header injection through the request line), and URLs over the length limit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tresse/common/result.hpp"

namespace tresse::dispatcher::http {

struct url {
  bool tls = false;         // https
  std::string host;         // lower case; an IPv6 literal without its brackets
  bool host_is_ip = false;  // no SNI for IP literals (RFC 6066)
  std::uint16_t port = 0;
  std::string target;  // path and query, "/" at least

  // "https://host:port": connections are pooled per origin.
  std::string origin() const;
  // The Host header: the port only when it is not the scheme's default.
  std::string host_header() const;
};

inline constexpr std::size_t default_max_url_length = 2048;

// Returns a permanent error saying what is wrong (never echoing more than the limit).
tresse::result<url> parse_url(std::string_view text,
                              std::size_t max_length = default_max_url_length);

}  // namespace tresse::dispatcher::http
