// SSRF guard: decides whether the dispatcher may open a connection to an IP address.
//
// Webhook URLs come from businesses, so a URL must not be a way into the dispatcher's own
// network. The client resolves the host, asks the guard about every candidate address, and
// connects to exactly the address it checked (no second resolution, so no DNS-rebinding gap).
// This unit is pure: no I/O, only address arithmetic, so it is tested exhaustively by table.
//
//   auto guard = address_guard::create({.allow_private_networks = false,
//                                       .allow_list = {"10.20.0.0/16"}});
//   if (auto why = guard->check(addr)) log("blocked", *why);   // e.g. "loopback"
//
// Blocked unless allowed: unspecified, loopback, RFC 1918 private, link-local, CGNAT,
// multicast, broadcast, IPv6 unique-local and site-local, documentation, benchmarking and
// reserved ranges, and the IPv4-mapped (::ffff:0:0/96), NAT64 (64:ff9b::/96) and 6to4
// (2002::/16) forms of any blocked IPv4 address.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tresse/common/result.hpp"

namespace tresse::dispatcher::http {

// Why an address is not publicly routable, or nullopt when it is: "loopback", "private",
// "link_local", "shared_cgnat", "multicast", "broadcast", "unspecified", "unique_local",
// "documentation", "benchmarking" or "reserved". Embedded IPv4 addresses are classified
// as themselves.
std::optional<std::string_view> non_public_reason(const boost::asio::ip::address& a);

// An address range in CIDR notation ("127.0.0.0/8", "fd00::/8"; a bare address is a /32
// or /128).
class cidr {
 public:
  // Returns a permanent error naming the text when it is not a valid CIDR.
  static tresse::result<cidr> parse(std::string_view text);

  // True when `a` is in the range. An IPv4-mapped IPv6 address matches IPv4 ranges.
  bool contains(const boost::asio::ip::address& a) const;

  std::string to_string() const;

 private:
  boost::asio::ip::address network_;
  unsigned prefix_ = 0;
};

struct address_guard_options {
  bool allow_private_networks = false;  // true disables the guard (tests, local try-out)
  std::vector<std::string> allow_list;  // CIDR ranges permitted despite the guard
};

class address_guard {
 public:
  // Returns a permanent error when an allow-list entry is not a valid CIDR.
  static tresse::result<address_guard> create(const address_guard_options& options);

  // nullopt when a connection to `a` is permitted; otherwise the reason it is blocked.
  std::optional<std::string_view> check(const boost::asio::ip::address& a) const;

 private:
  bool allow_all_ = false;
  std::vector<cidr> allow_list_;
};

}  // namespace tresse::dispatcher::http
