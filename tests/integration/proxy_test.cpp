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
#include "support/local_server.hpp"
#include "support/test_pki.hpp"

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

TEST_F(EgressProxyTest, HttpsGoesThroughATunnelAndTheEndpointIsStillVerified) {
  // HTTPS endpoints through the proxy, end to end: the dispatcher asks for a CONNECT tunnel and
  // runs TLS inside it to the endpoint, verified against delivery.ca_file as when direct. An
  // endpoint whose certificate names another host gets nothing: a TLS failure, logged as the
  // endpoint's attempt, not the proxy's.
  test_pki pki;
  local_server trusted({}, pki.server_context("DNS:localhost"));
  local_server impostor({}, pki.server_context("DNS:other.example"));
  connect_proxy proxy;
  auto ep = create_endpoint("biz_tls", trusted.url("/hook", "localhost"), "*");
  auto bad = create_endpoint("biz_tls_bad", impostor.url("/hook", "localhost"), "*");
  auto& d =
      start_dispatcher({"delivery.proxy=" + proxy.url(), "delivery.ca_file=" + pki.ca_file()});
  const auto ev = make_event("client.created", "biz_tls");
  publish({ev, make_event("client.created", "biz_tls_bad")});

  ASSERT_TRUE(eventually_true([&] { return !trusted.requests().empty(); })) << d.log_text();
  const auto got = trusted.requests()[0];
  EXPECT_EQ(got.target, "/hook");
  EXPECT_EQ(got.headers.at("webhook-id"), ev.id);
  received_request as_seen;
  as_seen.headers = got.headers;
  as_seen.body = got.body;
  EXPECT_TRUE(verify(as_seen, {ep.secret}));
  EXPECT_EQ(trusted.server_names(), std::vector<std::string>{"localhost"});  // SNI: the endpoint
  ASSERT_TRUE(eventually_true([&] { return !attempts(bad.id).empty(); })) << d.log_text();
  const auto failed = attempts(bad.id)[0];
  EXPECT_FALSE(failed["succeeded"].get<bool>()) << failed.dump();
  EXPECT_NE(failed["error"].get<std::string>().find("tls"), std::string::npos) << failed.dump();
  EXPECT_TRUE(impostor.requests().empty());
  for (const auto& line : proxy.request_lines()) {
    EXPECT_TRUE(line.starts_with("CONNECT ")) << line;  // never the request itself
  }
  EXPECT_GE(proxy.connects(), 2);
  EXPECT_EQ(metric(d.admin_port(), "tresse_proxy_failures_total"), 0);
}

}  // namespace
}  // namespace tresse::test
