// End to end: the dispatcher's admin listener. /healthz answers while the process runs,
// /readyz follows Redis (and Kafka), /metrics counts deliveries.
#include <gtest/gtest.h>

#include <string>

#include "harness.hpp"

namespace tresse::test {
namespace {

class AdminTest : public integration_test {};

TEST_F(AdminTest, HealthReadinessAndMetrics) {
  recording_sink sink;
  create_endpoint("biz_admin", sink.url(), "*");
  auto& d = start_dispatcher();
  auto port = d.admin_port();

  EXPECT_EQ(http_get(port, "/healthz").first, 200u);
  EXPECT_TRUE(eventually_true([&] { return http_get(port, "/readyz").first == 200; }));

  publish({make_event("client.created", "biz_admin")});
  ASSERT_TRUE(sink.wait_for_count(1));
  std::string metrics;
  EXPECT_TRUE(eventually_true([&] {
    auto [status, body] = http_get(port, "/metrics");
    metrics = body;
    return status == 200 &&
           body.find("tresse_deliveries_total{outcome=\"delivered\"} 1\n") != std::string::npos;
  })) << metrics;

  redis_.stop();
  EXPECT_TRUE(eventually_true([&] { return http_get(port, "/readyz").first == 503; }));
  EXPECT_EQ(http_get(port, "/healthz").first, 200u);  // alive, just not ready
  redis_.start();
  EXPECT_TRUE(eventually_true([&] { return http_get(port, "/readyz").first == 200; }));
}

}  // namespace
}  // namespace tresse::test
