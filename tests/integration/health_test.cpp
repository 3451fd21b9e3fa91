// End to end: endpoint health is visible in `tresse-dispatcher endpoints health` and, bounded,
// in /metrics.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness.hpp"

namespace tresse::test {
namespace {

using json = nlohmann::json;

class HealthTest : public integration_test {};

TEST_F(HealthTest, ShowsEachEndpointsHealthInTheCliAndMetrics) {
  recording_sink good([](const received_request&) { return sink_reply{.delay = 5ms}; });
  recording_sink bad([](const received_request&) { return sink_reply{.status = 500}; });
  auto g = create_endpoint("biz_h", good.url(), "*");
  auto b = create_endpoint("biz_h", bad.url(), "*");
  auto& d = start_dispatcher({"delivery.breaker_failures=3", "delivery.breaker_cool_down=1m",
                              "delivery.retry_schedule=1m", "delivery.endpoint_concurrency=1"});
  std::vector<events::event> evs;
  for (int i = 0; i < 10; ++i) evs.push_back(make_event("client.created", "biz_h"));
  publish(evs);
  ASSERT_TRUE(good.wait_for_delivered(evs.size()));

  json all, good_h, bad_h;
  ASSERT_TRUE(eventually_true([&] {
    all = cli({"endpoints", "health", "--business", "biz_h"});
    if (!all.contains("data") || all["data"].size() != 2) return false;
    for (const auto& e : all["data"]) (e["id"] == g.id ? good_h : bad_h) = e;
    return good_h.value("instances", 0) >= 1 && bad_h.value("breaker", "") == "open" &&
           bad_h["backlog"].value("retry_scheduled", 0) >= 10 && good_h.value("attempts", 0) >= 10;
  })) << all.dump(2);
  EXPECT_EQ(good_h["state"], "healthy");
  EXPECT_EQ(good_h["success_rate"], 1.0);
  EXPECT_TRUE(good_h["latency_ms"]["p50"].is_number()) << good_h.dump();
  EXPECT_TRUE(good_h["latency_ms"]["p99"].is_number());
  EXPECT_TRUE(good_h["rate_per_second"].is_null());  // unlimited
  EXPECT_EQ(bad_h["state"], "circuit_open");
  EXPECT_EQ(bad_h["success_rate"], 0.0);
  EXPECT_EQ(bad_h["consecutive_failures"], 3);
  EXPECT_TRUE(bad_h["failing_since"].is_string()) << bad_h.dump();

  auto one = cli({"endpoints", "health", b.id});
  ASSERT_EQ(one["data"].size(), 1u) << one.dump();
  EXPECT_EQ(one["data"][0]["id"], b.id);

  auto [status, metrics] = http_get(d.admin_port(), "/metrics");
  EXPECT_EQ(status, 200u);
  EXPECT_NE(metrics.find(R"(tresse_endpoints{state="circuit_open"} 1)"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(R"(tresse_endpoints{state="healthy"} 1)"), std::string::npos);
  EXPECT_NE(metrics.find(R"(tresse_endpoint_worst_success_ratio{endpoint=")" + b.id + R"("} 0)"),
            std::string::npos);
}

}  // namespace
}  // namespace tresse::test
