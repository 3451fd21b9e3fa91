// End to end: what a running dispatcher's /metrics says, and that deploy/monitoring (the alert
// rules and the Grafana dashboard) is built from exactly those metrics. The scrape of a real
// dispatcher (real Redis, the Kafka mock cluster, a delivery, Management API requests) is linted
// by `promtool check metrics` and handed to tests/deploy/monitoring/check_monitoring.py, which
// fails on any expression naming a metric the dispatcher does not export.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "harness.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"

namespace tresse::test {
namespace {

class MonitoringTest : public integration_test {
 protected:
  // /metrics once `done` holds for its text (or the deadline passes).
  std::string scrape_until(std::uint16_t port,
                           const std::function<bool(const std::string&)>& done) {
    std::string text;
    eventually_true([&] {
      auto [status, body] = http_get(port, "/metrics");
      text = body;
      return status == 200 && done(text);
    });
    return text;
  }

  static bool has(const std::string& text, const std::string& line) {
    return text.find(line + "\n") != std::string::npos;
  }
};

TEST_F(MonitoringTest, ScrapeHasBuildInfoReadinessApiRoutesAndRoundBucketBounds) {
  recording_sink sink;
  create_endpoint("biz_mon", sink.url(), "*");
  auto& d = start_dispatcher({"api.listen=127.0.0.1:0"});
  const auto admin = d.admin_port();
  const auto api = d.api_port();
  publish({make_event("client.created", "biz_mon")});
  ASSERT_TRUE(sink.wait_for_count(1));

  const std::string key =
      cli({"keys", "create", "--business", "biz_mon", "--mode", "live"}).value("secret", "");
  ASSERT_FALSE(key.empty());
  const http_headers auth = {{"Authorization", "Bearer " + key}};
  EXPECT_EQ(http_client("127.0.0.1", api).request("GET", "/v1/webhooks?limit=5", auth, "").status,
            200u);
  for (const char* id : {"we_doesnotexist1", "we_doesnotexist2"}) {
    EXPECT_EQ(http_client("127.0.0.1", api)
                  .request("GET", std::string("/v1/webhooks/") + id, auth, "")
                  .status,
              404u);
  }
  EXPECT_EQ(http_client("127.0.0.1", api).request("GET", "/wp-login.php", {}, "").status, 401u);

  const std::string text = scrape_until(admin, [](const std::string& t) {
    return t.find("tresse_deliveries_total{outcome=\"delivered\"} 1\n") != std::string::npos &&
           t.find("status=\"404\"} 2\n") != std::string::npos;
  });
  EXPECT_TRUE(has(text, std::string("tresse_build_info{version=\"") + TRESSE_VERSION + "\"} 1"))
      << text;
  EXPECT_TRUE(has(text, R"(tresse_ready{check="kafka"} 1)")) << text;
  EXPECT_TRUE(has(text, R"(tresse_ready{check="redis"} 1)")) << text;
  EXPECT_TRUE(
      has(text, R"(tresse_api_requests_total{route="/v1/webhooks",method="GET",status="200"} 1)"))
      << text;
  EXPECT_TRUE(has(
      text, R"(tresse_api_requests_total{route="/v1/webhooks/{id}",method="GET",status="404"} 2)"))
      << text;
  EXPECT_TRUE(
      has(text, R"(tresse_api_requests_total{route="unmatched",method="GET",status="401"} 1)"))
      << text;
  EXPECT_EQ(text.find("we_doesnotexist"), std::string::npos) << "a raw path in a label";
  EXPECT_EQ(text.find("wp-login"), std::string::npos) << "a raw path in a label";
  for (const char* le : {"0.005", "0.01", "0.025", "0.1", "0.25", "2.5", "15", "+Inf"}) {
    EXPECT_NE(text.find(std::string("tresse_attempt_duration_seconds_bucket{le=\"") + le + "\"} "),
              std::string::npos)
        << le << "\n"
        << text;
  }
  EXPECT_EQ(text.find("0000000"), std::string::npos) << "a number not in shortest form\n" << text;

  // The Prometheus tools read it as it is.
  auto lint = run_process({TRESSE_PROMTOOL_BIN, "check", "metrics"}, text);
  EXPECT_EQ(lint.exit_code, 0) << lint.out << lint.err;

  // Readiness follows Redis, in the metric as in /readyz.
  redis_.stop();
  EXPECT_TRUE(has(scrape_until(admin,
                               [](const std::string& t) {
                                 return t.find("tresse_ready{check=\"redis\"} 0\n") !=
                                        std::string::npos;
                               }),
                  R"(tresse_ready{check="redis"} 0)"));
  redis_.start();
}

TEST_F(MonitoringTest, AlertRulesAndDashboardNameOnlyExportedMetrics) {
  recording_sink sink;
  create_endpoint("biz_mon", sink.url(), "*");
  auto& d = start_dispatcher({"api.listen=127.0.0.1:0"});
  publish({make_event("client.created", "biz_mon")});
  ASSERT_TRUE(sink.wait_for_count(1));
  const std::string text = scrape_until(d.admin_port(), [](const std::string& t) {
    return t.find("# TYPE tresse_api_requests_total counter\n") != std::string::npos &&
           t.find("# TYPE tresse_consumer_lag gauge\n") != std::string::npos;
  });
  const auto scrape = dir_ / "metrics.txt";
  std::ofstream(scrape) << text;

  const std::string monitoring = std::string(TRESSE_SOURCE_DIR) + "/deploy/monitoring/";
  auto r = run_process(
      {TRESSE_PYTHON_BIN,
       std::string(TRESSE_SOURCE_DIR) + "/tests/deploy/monitoring/check_monitoring.py", "--metrics",
       scrape.string(), "--rules", monitoring + "alerts.yaml", "--dashboard",
       monitoring + "grafana-dashboard.json", "--promtool", TRESSE_PROMTOOL_BIN});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(" 0 problems"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace tresse::test
