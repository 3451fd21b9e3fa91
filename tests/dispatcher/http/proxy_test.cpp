#include "http/proxy.hpp"

#include <gtest/gtest.h>

#include "http/client.hpp"

namespace tresse::dispatcher::http {
namespace {

using namespace std::chrono_literals;

url parsed(const char* text) {
  auto u = parse_url(text);
  EXPECT_TRUE(u) << text;
  return *u;
}

TEST(ProxyTest, ParsesHostPortAndCredentials) {
  auto p = proxy::parse("http://ops:p%40ss@Proxy.Internal:3128");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->host(), "proxy.internal");
  EXPECT_EQ(p->port(), 3128);
  EXPECT_FALSE(p->host_is_ip());
  EXPECT_EQ(p->address(), "proxy.internal:3128");
  // base64("ops:p@ss")
  EXPECT_EQ(p->authorization_field(), "Proxy-Authorization: Basic b3BzOnBAc3M=\r\n");
  EXPECT_EQ(p->connect_request("93.184.216.34:443"),
            "CONNECT 93.184.216.34:443 HTTP/1.1\r\nHost: 93.184.216.34:443\r\n"
            "Proxy-Authorization: Basic b3BzOnBAc3M=\r\n\r\n");

  auto bare = proxy::parse("http://[::1]:8080/");
  ASSERT_TRUE(bare) << bare.error().message;
  EXPECT_EQ(bare->address(), "[::1]:8080");
  EXPECT_EQ(bare->authorization_field(), "");
  EXPECT_EQ(bare->connect_request("[2001:db8::1]:443"),
            "CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n");
}

TEST(ProxyTest, RefusesMalformedUrlsWithoutEchoingTheCredentials) {
  for (const char* bad : {"https://proxy:3128", "socks5://proxy:1080", "proxy:3128", "http://proxy",
                          "http://proxy:0", "http://proxy:3128/path", "http://:3128",
                          "http://us%zzer:secret@proxy:3128", "http://a:b@pro xy:1"}) {
    auto p = proxy::parse(bad);
    ASSERT_FALSE(p) << bad;
    EXPECT_EQ(p.error().message.find("secret"), std::string::npos) << p.error().message;
    EXPECT_NE(p.error().message.find("invalid proxy URL"), std::string::npos) << p.error().message;
  }
}

TEST(ProxyTest, NoProxyMatchesHostSuffixesAndIpLiteralRanges) {
  auto p = proxy::parse("http://proxy:3128", {"internal.example", ".corp.example", "10.0.0.0/8",
                                              "fd00::/8", "192.168.1.7"});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(p->bypasses(parsed("https://internal.example/h")));
  EXPECT_TRUE(p->bypasses(parsed("https://hooks.internal.example/h")));
  EXPECT_TRUE(p->bypasses(parsed("https://a.corp.example/h")));
  EXPECT_TRUE(p->bypasses(parsed("https://corp.example/h")));
  EXPECT_FALSE(p->bypasses(parsed("https://notinternal.example/h")));
  EXPECT_FALSE(p->bypasses(parsed("https://example/h")));
  EXPECT_TRUE(p->bypasses(parsed("http://10.2.3.4:8080/h")));
  EXPECT_TRUE(p->bypasses(parsed("http://[fd12::1]/h")));
  EXPECT_TRUE(p->bypasses(parsed("http://192.168.1.7/h")));
  EXPECT_FALSE(p->bypasses(parsed("http://192.168.1.8/h")));
  EXPECT_FALSE(p->bypasses(parsed("https://93.184.216.34/h")));
}

TEST(ProxyTest, RefusesMalformedNoProxyEntries) {
  for (const char* bad : {"", "10.0.0.0/33", "1.2.3.4/x", "bad host", "*.example"}) {
    EXPECT_TRUE(proxy::no_proxy_problem(bad)) << bad;
    EXPECT_FALSE(proxy::parse("http://proxy:3128", {bad})) << bad;
  }
  EXPECT_FALSE(proxy::no_proxy_problem("example.com"));
  EXPECT_FALSE(proxy::no_proxy_problem("::1"));
}

TEST(ProxyTest, AnswersToConnectSayWhoseFailureItIs) {
  EXPECT_EQ(proxy_answer_kind(200), std::nullopt);
  EXPECT_EQ(proxy_answer_kind(204), std::nullopt);
  EXPECT_EQ(proxy_answer_kind(407), failure_kind::proxy);
  EXPECT_EQ(proxy_answer_kind(500), failure_kind::proxy);
  EXPECT_EQ(proxy_answer_kind(503), failure_kind::proxy);
  EXPECT_EQ(proxy_answer_kind(502), failure_kind::connect);  // could not reach the endpoint
  EXPECT_EQ(proxy_answer_kind(504), failure_kind::connect);
  EXPECT_EQ(proxy_answer_kind(403), failure_kind::connect);  // refused that destination
  EXPECT_EQ(proxy_answer_kind(301), failure_kind::connect);
}

TEST(ProxyTest, HealthIsFailingUntilItWorksAgainOrTheFailureIsOld) {
  proxy_health h;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(h.failing(t0));
  h.worked(t0);
  EXPECT_FALSE(h.failing(t0 + 1s));
  h.failed(t0 + 2s);
  EXPECT_TRUE(h.failing(t0 + 3s));
  EXPECT_TRUE(h.failing(t0 + 61s));
  EXPECT_FALSE(h.failing(t0 + 63s));  // forgotten after a minute without news
  h.failed(t0 + 70s);
  EXPECT_TRUE(h.failing(t0 + 71s));
  h.worked(t0 + 72s);
  EXPECT_FALSE(h.failing(t0 + 73s));
}

}  // namespace
}  // namespace tresse::dispatcher::http
