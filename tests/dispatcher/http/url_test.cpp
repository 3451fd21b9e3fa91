#include "http/url.hpp"

#include <gtest/gtest.h>

#include <string>

namespace tresse::dispatcher::http {
namespace {

TEST(UrlTest, ParsesHttpsWithDefaults) {
  auto u = parse_url("https://Hooks.Example.COM");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "hooks.example.com");
  EXPECT_FALSE(u->host_is_ip);
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/");
  EXPECT_EQ(u->host_header(), "hooks.example.com");
  EXPECT_EQ(u->origin(), "https://hooks.example.com:443");
}

TEST(UrlTest, KeepsPathAndQueryAndDropsFragment) {
  auto u = parse_url("HTTP://example.com:8080/a/b?x=1&y=%20#frag");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->target, "/a/b?x=1&y=%20");
  EXPECT_EQ(u->host_header(), "example.com:8080");
  auto q = parse_url("http://example.com?x=1");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->target, "/?x=1");
}

TEST(UrlTest, ParsesIpLiterals) {
  auto v4 = parse_url("http://127.0.0.1:9000/hook");
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->host_is_ip);
  EXPECT_EQ(v4->host, "127.0.0.1");
  auto v6 = parse_url("https://[::1]:8443/hook");
  ASSERT_TRUE(v6) << v6.error().message;
  EXPECT_TRUE(v6->host_is_ip);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8443);
  EXPECT_EQ(v6->host_header(), "[::1]:8443");
  auto v6default = parse_url("https://[2001:db8::1]/");
  ASSERT_TRUE(v6default);
  EXPECT_EQ(v6default->host_header(), "[2001:db8::1]");
}

TEST(UrlTest, RejectsWhatCannotBeAWebhookUrl) {
  for (const char* bad :
       {"", "example.com/hook", "ftp://example.com/", "file:///etc/passwd", "https://",
        "https:///path", "https://user:pw@example.com/", "https://example.com:0/",
        "https://example.com:65536/", "https://example.com:8x/", "https://exa mple.com/",
        "https://example.com/a b", "https://example.com/\r\nX: y", "https://ex%61mple.com/",
        "https://bücher.example/", "https://[::1/", "https://[not-v6]/", "https://[::1]x/",
        "javascript:alert(1)"}) {
    auto u = parse_url(bad);
    ASSERT_FALSE(u) << bad;
    EXPECT_EQ(u.error().message.rfind("invalid URL: ", 0), 0u);
  }
}

TEST(UrlTest, EnforcesTheLengthLimit) {
  const std::string base = "https://example.com/";
  EXPECT_TRUE(parse_url(base + std::string(100 - base.size(), 'a'), 100));
  EXPECT_FALSE(parse_url(base + std::string(101 - base.size(), 'a'), 100));
  EXPECT_FALSE(parse_url(base + std::string(default_max_url_length, 'a')));
}

}  // namespace
}  // namespace tresse::dispatcher::http
