#include "http/address_guard.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace tresse::dispatcher::http {
namespace {

boost::asio::ip::address addr(const std::string& s) { return boost::asio::ip::make_address(s); }

struct row {
  const char* address;
  const char* reason;  // nullptr: public
};

// Each range at its first and last address, and public neighbours just outside it.
constexpr row kTable[] = {
    // IPv4
    {"0.0.0.0", "unspecified"},
    {"0.255.255.255", "unspecified"},
    {"1.0.0.0", nullptr},
    {"9.255.255.255", nullptr},
    {"10.0.0.0", "private"},
    {"10.255.255.255", "private"},
    {"11.0.0.0", nullptr},
    {"100.63.255.255", nullptr},
    {"100.64.0.0", "shared_cgnat"},
    {"100.127.255.255", "shared_cgnat"},
    {"100.128.0.0", nullptr},
    {"126.255.255.255", nullptr},
    {"127.0.0.1", "loopback"},
    {"127.255.255.254", "loopback"},
    {"128.0.0.0", nullptr},
    {"169.253.255.255", nullptr},
    {"169.254.0.0", "link_local"},
    {"169.254.169.254", "link_local"},  // cloud metadata service
    {"169.254.255.255", "link_local"},
    {"169.255.0.0", nullptr},
    {"172.15.255.255", nullptr},
    {"172.16.0.0", "private"},
    {"172.31.255.255", "private"},
    {"172.32.0.0", nullptr},
    {"192.0.0.0", "reserved"},
    {"192.0.0.255", "reserved"},
    {"192.0.1.0", nullptr},
    {"192.0.2.0", "documentation"},
    {"192.0.2.255", "documentation"},
    {"192.0.3.0", nullptr},
    {"192.88.99.1", "reserved"},
    {"192.167.255.255", nullptr},
    {"192.168.0.0", "private"},
    {"192.168.255.255", "private"},
    {"192.169.0.0", nullptr},
    {"198.17.255.255", nullptr},
    {"198.18.0.0", "benchmarking"},
    {"198.19.255.255", "benchmarking"},
    {"198.20.0.0", nullptr},
    {"198.51.100.7", "documentation"},
    {"203.0.113.9", "documentation"},
    {"203.0.114.0", nullptr},
    {"8.8.8.8", nullptr},
    {"93.184.216.34", nullptr},
    {"223.255.255.255", nullptr},
    {"224.0.0.0", "multicast"},
    {"239.255.255.255", "multicast"},
    {"240.0.0.0", "reserved"},
    {"255.255.255.254", "reserved"},
    {"255.255.255.255", "broadcast"},
    // IPv6
    {"::", "unspecified"},
    {"::1", "loopback"},
    {"::2", "reserved"},
    {"::7f00:1", "reserved"},  // deprecated IPv4-compatible
    {"::ffff:127.0.0.1", "loopback"},
    {"::ffff:10.1.2.3", "private"},
    {"::ffff:169.254.169.254", "link_local"},
    {"::ffff:8.8.8.8", nullptr},
    {"64:ff9b::7f00:1", "loopback"},   // NAT64 of 127.0.0.1
    {"64:ff9b::a00:1", "private"},     // NAT64 of 10.0.0.1
    {"64:ff9b::808:808", nullptr},     // NAT64 of 8.8.8.8
    {"64:ff9b:1::1", "private"},       // local-use NAT64
    {"2002:7f00:1::1", "loopback"},    // 6to4 of 127.0.0.1
    {"2002:c0a8:101::", "private"},    // 6to4 of 192.168.1.1
    {"2002:808:808::1", nullptr},      // 6to4 of 8.8.8.8
    {"100::1", "reserved"},            // discard-only
    {"2001::1", "reserved"},           // Teredo
    {"2001:1ff:ffff::1", "reserved"},  // end of 2001::/23
    {"2001:200::1", nullptr},          // just after it
    {"2001:2::1", "benchmarking"},
    {"2001:db8::1", "documentation"},
    {"2001:db8:ffff:ffff::1", "documentation"},
    {"2001:db9::1", nullptr},
    {"3fff::1", "documentation"},
    {"3fff:fff::1", "documentation"},
    {"3fff:1000::1", nullptr},
    {"2606:4700:4700::1111", nullptr},
    {"2a00:1450:4001:80b::200e", nullptr},
    {"fbff:ffff::1", "reserved"},
    {"fc00::1", "unique_local"},
    {"fd12:3456::1", "unique_local"},
    {"fdff:ffff::1", "unique_local"},
    {"fe80::1", "link_local"},
    {"febf:ffff::1", "link_local"},
    {"fec0::1", "private"},
    {"ff02::1", "multicast"},
    {"ffff::1", "multicast"},
    {"4000::1", "reserved"},  // outside 2000::/3
    {"1fff:ffff::1", "reserved"},
};

TEST(AddressGuardTest, ClassifiesEveryRangeAtItsEdges) {
  for (const auto& r : kTable) {
    const auto got = non_public_reason(addr(r.address));
    if (r.reason == nullptr) {
      EXPECT_FALSE(got.has_value()) << r.address << " classified " << got.value_or("");
    } else {
      EXPECT_EQ(got.value_or("public"), r.reason) << r.address;
    }
  }
}

TEST(AddressGuardTest, BlocksInternalAddressesByDefault) {
  auto guard = address_guard::create({});
  ASSERT_TRUE(guard);
  EXPECT_EQ(guard->check(addr("127.0.0.1")).value_or(""), "loopback");
  EXPECT_EQ(guard->check(addr("::1")).value_or(""), "loopback");
  EXPECT_EQ(guard->check(addr("::ffff:192.168.0.1")).value_or(""), "private");
  EXPECT_FALSE(guard->check(addr("8.8.8.8")));
  EXPECT_FALSE(guard->check(addr("2606:4700:4700::1111")));
}

TEST(AddressGuardTest, AllowPrivateNetworksPermitsEverything) {
  auto guard = address_guard::create({.allow_private_networks = true, .allow_list = {}});
  ASSERT_TRUE(guard);
  for (const auto& r : kTable) EXPECT_FALSE(guard->check(addr(r.address))) << r.address;
}

TEST(AddressGuardTest, AllowListPermitsOnlyItsRanges) {
  auto guard = address_guard::create({.allow_list = {"127.0.0.0/8", "fd00:1::/32", "10.1.2.3"}});
  ASSERT_TRUE(guard);
  EXPECT_FALSE(guard->check(addr("127.0.0.1")));
  EXPECT_FALSE(guard->check(addr("127.9.9.9")));
  EXPECT_FALSE(guard->check(addr("::ffff:127.0.0.1")));  // the mapped form of an allowed one
  EXPECT_FALSE(guard->check(addr("fd00:1:ffff::1")));
  EXPECT_FALSE(guard->check(addr("10.1.2.3")));
  EXPECT_EQ(guard->check(addr("10.1.2.4")).value_or(""), "private");
  EXPECT_EQ(guard->check(addr("fd00:2::1")).value_or(""), "unique_local");
  EXPECT_EQ(guard->check(addr("::1")).value_or(""), "loopback");
  EXPECT_EQ(guard->check(addr("169.254.169.254")).value_or(""), "link_local");
}

TEST(AddressGuardTest, RejectsMalformedAllowListEntries) {
  for (const char* bad : {"", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/8x", "example.com",
                          "10.0.0/8", "10.0.0.0/-1", "/8"}) {
    auto guard = address_guard::create({.allow_list = {bad}});
    ASSERT_FALSE(guard) << bad;
    EXPECT_NE(guard.error().message.find("invalid CIDR"), std::string::npos);
  }
}

TEST(AddressGuardTest, CidrContainsHonoursPrefixBits) {
  auto c = cidr::parse("100.64.0.0/10");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->to_string(), "100.64.0.0/10");
  EXPECT_TRUE(c->contains(addr("100.127.255.255")));
  EXPECT_FALSE(c->contains(addr("100.128.0.0")));
  EXPECT_FALSE(c->contains(addr("2001:db8::1")));
  auto all = cidr::parse("::/0");
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->contains(addr("2001:db8::1")));
  EXPECT_TRUE(all->contains(addr("8.8.8.8")));  // as ::ffff:8.8.8.8
}

}  // namespace
}  // namespace tresse::dispatcher::http
