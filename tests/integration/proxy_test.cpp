// End to end: deliveries through the egress proxy (delivery.proxy), a real forward proxy written
// in the test (support/connect_proxy.hpp). A failing proxy is an instance-level fault: the
// deliveries wait in the retry schedule without an attempt, no endpoint circuit opens, nothing is
// dead-lettered, and /readyz and /metrics say so; when the proxy works again, everything arrives.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "harness.hpp"
#include "support/connect_proxy.hpp"

namespace tresse::test {
namespace {

using namespace std::chrono_literals;

// The value of an unlabelled (or fully labelled) sample in /metrics, or -1 when absent.
double metric(std::uint16_t admin_port, const std::string& sample) {
  const auto [status, text] = http_get(admin_port, "/metrics");
  const auto at = text.find("\n" + sample + " ");
  if (status != 200 || at == std::string::npos) return -1;
  return std::stod(text.substr(at + sample.size() + 2));
}

class EgressProxyTest : public integration_test {};

TEST_F(EgressProxyTest, DeliversThroughTheProxy) {
  recording_sink sink;
  connect_proxy proxy;
  auto ep = create_endpoint("biz_px", sink.url(), "*");
  auto& d = start_dispatcher({"delivery.proxy=" + proxy.url()});
  publish({make_event("client.created", "biz_px"), make_event("client.updated", "biz_px")});

  ASSERT_TRUE(sink.wait_for_delivered(2)) << d.log_text();
  EXPECT_TRUE(verify(sink.requests()[0], {ep.secret}));
  EXPECT_GE(proxy.forwards(), 1);
  ASSERT_FALSE(proxy.request_lines().empty());
  EXPECT_EQ(proxy.request_lines()[0], "POST " + sink.url() + " HTTP/1.1");  // absolute form
  const auto [status, body] = http_get(d.admin_port(), "/readyz");
  EXPECT_EQ(status, 200u) << body;
  EXPECT_NE(body.find("\"proxy\": \"ok\""), std::string::npos) << body;
  EXPECT_EQ(metric(d.admin_port(), "tresse_proxy_failures_total"), 0);
}

TEST_F(EgressProxyTest, AFailingProxyIsNotChargedToTheEndpoint) {
  recording_sink sink;
  // 407 to every request: for an http target the proxy's answer is the only one there is, so
  // this is how a failing proxy shows on that path (5xx to CONNECT: ClientTest).
  connect_proxy proxy({.refuse_with = 407});
  auto ep = create_endpoint("biz_px", sink.url(), "*");
  // Two failures would open the circuit, and three retries would dead-letter: neither may
  // happen while the proxy is at fault.
  auto& d = start_dispatcher({"delivery.proxy=" + proxy.url(), "delivery.breaker_failures=2"});
  const auto port = d.admin_port();
  publish({make_event("client.created", "biz_px"), make_event("client.updated", "biz_px")});

  ASSERT_TRUE(eventually_true([&] { return metric(port, "tresse_proxy_failures_total") >= 8; }))
      << d.log_text();
  EXPECT_EQ(sink.count(), 0u);
  EXPECT_TRUE(attempts(ep.id).empty()) << attempts(ep.id).dump();
  EXPECT_FALSE(d.wait_for_log("circuit opened", {}, 0ms));
  EXPECT_EQ(metric(port, "tresse_deliveries_total{outcome=\"dead_lettered\"}"), 0);
  EXPECT_EQ(metric(port, "tresse_ready{check=\"proxy\"}"), 0);
  auto [status, body] = http_get(port, "/readyz");
  EXPECT_EQ(status, 503u) << body;
  EXPECT_NE(body.find("\"proxy\": \"failing\""), std::string::npos) << body;
  EXPECT_NE(body.find("\"redis\": \"ok\""), std::string::npos) << body;

  // The proxy works again: the deferred deliveries arrive, readiness comes back.
  proxy.refuse_with(0);
  ASSERT_TRUE(sink.wait_for_delivered(2)) << d.log_text();
  EXPECT_TRUE(eventually_true([&] { return http_get(port, "/readyz").first == 200; }));
  for (const auto& a : attempts(ep.id)) EXPECT_EQ(a["succeeded"], true) << a.dump();
}

TEST_F(EgressProxyTest, ADeadProxyShowsOnReadyzAndLogsNoAttempt) {
  recording_sink sink;
  std::string dead_url;
  {
    connect_proxy gone;  // its port is free again once it is gone
    dead_url = gone.url();
  }
  auto ep = create_endpoint("biz_px", sink.url(), "*");
  auto& d = start_dispatcher({"delivery.proxy=" + dead_url, "delivery.breaker_failures=2"});
  const auto port = d.admin_port();
  // Seen by the check's own connection, before any delivery tried it.
  EXPECT_TRUE(eventually_true([&] { return http_get(port, "/readyz").first == 503; }));
  publish({make_event("client.created", "biz_px")});
  ASSERT_TRUE(eventually_true([&] { return metric(port, "tresse_proxy_failures_total") >= 4; }))
      << d.log_text();
  EXPECT_TRUE(attempts(ep.id).empty()) << attempts(ep.id).dump();
  EXPECT_FALSE(d.wait_for_log("circuit opened", {}, 0ms));
  EXPECT_TRUE(d.wait_for_log("egress proxy failed; delivery deferred without an attempt"));
  EXPECT_EQ(sink.count(), 0u);
}

}  // namespace
}  // namespace tresse::test
