#include "http/address_guard.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <span>

namespace tresse::dispatcher::http {
namespace {

namespace ip = boost::asio::ip;

// True when the first `prefix` bits of `a` and `b` are equal.
bool same_prefix(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b,
                 unsigned prefix) {
  const unsigned whole = prefix / 8;
  if (!std::equal(a.begin(), a.begin() + whole, b.begin())) return false;
  const unsigned rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

struct v4_range {
  std::array<std::uint8_t, 4> net;
  unsigned prefix;
  std::string_view reason;
};

// Order matters: the broadcast address sits inside 240.0.0.0/4.
constexpr v4_range kV4Ranges[] = {
    {{0, 0, 0, 0}, 8, "unspecified"},          // "this network" (RFC 791)
    {{10, 0, 0, 0}, 8, "private"},             // RFC 1918
    {{100, 64, 0, 0}, 10, "shared_cgnat"},     // RFC 6598
    {{127, 0, 0, 0}, 8, "loopback"},           //
    {{169, 254, 0, 0}, 16, "link_local"},      // includes cloud metadata 169.254.169.254
    {{172, 16, 0, 0}, 12, "private"},          // RFC 1918
    {{192, 0, 0, 0}, 24, "reserved"},          // IETF protocol assignments
    {{192, 0, 2, 0}, 24, "documentation"},     // TEST-NET-1
    {{192, 88, 99, 0}, 24, "reserved"},        // former 6to4 relay anycast
    {{192, 168, 0, 0}, 16, "private"},         // RFC 1918
    {{198, 18, 0, 0}, 15, "benchmarking"},     // RFC 2544
    {{198, 51, 100, 0}, 24, "documentation"},  // TEST-NET-2
    {{203, 0, 113, 0}, 24, "documentation"},   // TEST-NET-3
    {{224, 0, 0, 0}, 4, "multicast"},          //
    {{255, 255, 255, 255}, 32, "broadcast"},   //
    {{240, 0, 0, 0}, 4, "reserved"},           // future use
};

std::optional<std::string_view> classify_v4(const ip::address_v4& a) {
  const auto bytes = a.to_bytes();
  for (const auto& r : kV4Ranges) {
    if (same_prefix(bytes, r.net, r.prefix)) return r.reason;
  }
  return std::nullopt;
}

using v6_bytes = ip::address_v6::bytes_type;

constexpr v6_bytes v6(std::initializer_list<std::uint16_t> groups) {
  v6_bytes b{};
  std::size_t i = 0;
  for (auto g : groups) {
    b[i++] = static_cast<std::uint8_t>(g >> 8);
    b[i++] = static_cast<std::uint8_t>(g & 0xFF);
  }
  return b;
}

ip::address_v4 v4_at(const v6_bytes& b, std::size_t offset) {
  return ip::address_v4(
      ip::address_v4::bytes_type{b[offset], b[offset + 1], b[offset + 2], b[offset + 3]});
}

std::optional<std::string_view> classify_v6(const ip::address_v6& a) {
  const auto b = a.to_bytes();
  auto in = [&](const v6_bytes& net, unsigned prefix) { return same_prefix(b, net, prefix); };

  if (a.is_unspecified()) return "unspecified";
  if (a.is_loopback()) return "loopback";
  // Forms that carry an IPv4 address: judged by the address they lead to.
  if (a.is_v4_mapped()) return classify_v4(v4_at(b, 12));
  if (in(v6({0x64, 0xff9b}), 96)) return classify_v4(v4_at(b, 12));  // NAT64, RFC 6052
  if (in(v6({0x2002}), 16)) return classify_v4(v4_at(b, 2));         // 6to4, RFC 3056

  if (in(v6({0x64, 0xff9b, 0x1}), 48)) return "private";  // local-use NAT64, RFC 8215
  if (in(v6({0x100}), 64)) return "reserved";             // discard-only, RFC 6666
  if (in(v6({0x2001, 0x2}), 48)) return "benchmarking";   // RFC 5180
  if (in(v6({0x2001, 0xdb8}), 32)) return "documentation";
  if (in(v6({0x3fff}), 20)) return "documentation";  // RFC 9637
  if (in(v6({0x2001}), 23)) return "reserved";       // IETF protocol assignments, Teredo
  if (in(v6({0xfc00}), 7)) return "unique_local";
  if (in(v6({0xfe80}), 10)) return "link_local";
  if (in(v6({0xfec0}), 10)) return "private";  // deprecated site-local
  if (in(v6({0xff00}), 8)) return "multicast";
  // Only 2000::/3 is allocated for global unicast; the rest (IPv4-compatible ::a.b.c.d,
  // 100::/8, ...) is not a place a webhook can live.
  if (!in(v6({0x2000}), 3)) return "reserved";
  return std::nullopt;
}

}  // namespace

std::optional<std::string_view> non_public_reason(const ip::address& a) {
  return a.is_v4() ? classify_v4(a.to_v4()) : classify_v6(a.to_v6());
}

tresse::result<cidr> cidr::parse(std::string_view text) {
  auto invalid = [&] {
    return tresse::fail(tresse::error_kind::permanent,
                        "invalid CIDR range '" + std::string(text) + "'");
  };
  const auto slash = text.find('/');
  boost::system::error_code ec;
  const auto address = ip::make_address(std::string(text.substr(0, slash)), ec);
  if (ec) return invalid();
  const unsigned max_prefix = address.is_v4() ? 32 : 128;
  unsigned prefix = max_prefix;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    const auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || err != std::errc{} || end != digits.data() + digits.size() ||
        prefix > max_prefix) {
      return invalid();
    }
  }
  cidr c;
  c.network_ = address;
  c.prefix_ = prefix;
  return c;
}

bool cidr::contains(const ip::address& a) const {
  if (network_.is_v4()) {
    ip::address_v4 v4;
    if (a.is_v4()) {
      v4 = a.to_v4();
    } else if (a.to_v6().is_v4_mapped()) {
      v4 = ip::make_address_v4(ip::v4_mapped, a.to_v6());
    } else {
      return false;
    }
    return same_prefix(v4.to_bytes(), network_.to_v4().to_bytes(), prefix_);
  }
  const auto v6 = a.is_v6() ? a.to_v6() : ip::make_address_v6(ip::v4_mapped, a.to_v4());
  return same_prefix(v6.to_bytes(), network_.to_v6().to_bytes(), prefix_);
}

std::string cidr::to_string() const { return network_.to_string() + "/" + std::to_string(prefix_); }

tresse::result<address_guard> address_guard::create(const address_guard_options& options) {
  address_guard g;
  g.allow_all_ = options.allow_private_networks;
  for (const auto& text : options.allow_list) {
    auto c = cidr::parse(text);
    if (!c) return std::unexpected(c.error());
    g.allow_list_.push_back(*c);
  }
  return g;
}

std::optional<std::string_view> address_guard::check(const ip::address& a) const {
  if (allow_all_) return std::nullopt;
  const auto reason = non_public_reason(a);
  if (!reason) return std::nullopt;
  for (const auto& c : allow_list_) {
    if (c.contains(a)) return std::nullopt;
  }
  return reason;
}

}  // namespace tresse::dispatcher::http
