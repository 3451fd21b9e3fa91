#include "admin/metrics.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace tresse::dispatcher {
namespace {

TEST(MetricsTest, RendersCountersWithLabelsInPrometheusFormat) {
  metrics m;
  auto& ok = m.make_counter("tresse_deliveries_total", "Attempts by outcome", {{"outcome", "delivered"}});
  auto& bad = m.make_counter("tresse_deliveries_total", "Attempts by outcome", {{"outcome", "retry"}});
  ok.inc(3);
  bad.inc();
  std::string text = m.render();
  EXPECT_NE(text.find("# TYPE tresse_deliveries_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("tresse_deliveries_total{outcome=\"delivered\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("tresse_deliveries_total{outcome=\"retry\"} 1\n"), std::string::npos);
  // One HELP/TYPE block per family, however many series.
  EXPECT_EQ(text.find("# TYPE tresse_deliveries_total"), text.rfind("# TYPE tresse_deliveries_total"));
}

TEST(MetricsTest, HistogramBucketsAreCumulative) {
  metrics m;
  auto& h = m.make_histogram("latency_seconds", "Latency", {0.01, 0.1, 1});
  h.observe(0.005);
  h.observe(0.05);
  h.observe(0.05);
  h.observe(5);
  std::string text = m.render();
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"0.01\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"0.1\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"1\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"+Inf\"} 4\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_count 4\n"), std::string::npos);
}

TEST(MetricsTest, BucketBoundsAreInShortestRoundTripForm) {
  // A query or alert written with le="0.1" must match: never 0.10000000000000001.
  metrics m;
  m.make_histogram("h_seconds", "help", {0.005, 0.01, 0.025, 0.1, 0.25, 1, 2.5, 15, 1e-7, 1e21});
  const std::string text = m.render();
  for (const char* le :
       {"0.005", "0.01", "0.025", "0.1", "0.25", "1", "2.5", "15", "1e-07", "1e+21", "+Inf"}) {
    EXPECT_NE(text.find(std::string("h_seconds_bucket{le=\"") + le + "\"} 0\n"), std::string::npos)
        << le << "\n"
        << text;
  }
  EXPECT_EQ(text.find("0000000"), std::string::npos) << text;
}

TEST(MetricsTest, RendersValuesInShortestRoundTripForm) {
  metrics m;
  m.make_gauge("a", "help").set(0.1);
  m.make_gauge("b", "help").set(1.0 / 3);
  m.make_gauge("c", "help").set(-2);
  m.make_gauge("d", "help").set(std::numeric_limits<double>::infinity());
  m.make_gauge("e", "help").set(-std::numeric_limits<double>::infinity());
  m.make_gauge("f", "help").set(std::numeric_limits<double>::quiet_NaN());
  auto& h = m.make_histogram("h", "help", {1});
  h.observe(0.1);
  h.observe(0.2);
  const std::string text = m.render();
  EXPECT_NE(text.find("\na 0.1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nb 0.3333333333333333\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nc -2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nd +Inf\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\ne -Inf\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nf NaN\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nh_sum 0.30000000000000004\n"), std::string::npos) << text;  // exact
}

TEST(MetricsTest, EscapesHelpText) {
  // The text format: in HELP, backslash and line feed are escaped; double quotes are not.
  metrics m;
  m.make_counter("c_total", "a \"quoted\" C:\\path\nsecond line");
  EXPECT_NE(m.render().find(
                "# HELP c_total a \"quoted\" C:\\\\path\\nsecond line\n# TYPE c_total counter\n"),
            std::string::npos)
      << m.render();
}

TEST(MetricsTest, CallbackFamilyMayBeACounter) {
  metrics m;
  m.make_callback_family(
      "requests_total", "help",
      [] {
        return metrics::labelled_values{{{{"route", "/v1/webhooks"}}, 3}};
      },
      10, metrics::family_type::counter);
  const std::string text = m.render();
  EXPECT_NE(text.find("# TYPE requests_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("requests_total{route=\"/v1/webhooks\"} 3\n"), std::string::npos) << text;
}

TEST(MetricsTest, CallbackGaugeIsReadAtScrapeTime) {
  metrics m;
  double backlog = 1;
  m.make_callback_gauge("tresse_retry_backlog", "Tasks waiting", [&] { return backlog; });
  EXPECT_NE(m.render().find("tresse_retry_backlog 1\n"), std::string::npos);
  backlog = 42;
  EXPECT_NE(m.render().find("tresse_retry_backlog 42\n"), std::string::npos);
}

TEST(MetricsTest, EscapesLabelValues) {
  metrics m;
  m.make_gauge("g", "help", {{"reason", "a\"b\\c"}}).set(2);
  EXPECT_NE(m.render().find("g{reason=\"a\\\"b\\\\c\"} 2\n"), std::string::npos);
}

TEST(MetricsTest, CallbackFamilyRendersAtMostItsBound) {
  metrics m;
  m.make_callback_family(
      "worst", "help",
      [] {
        metrics::labelled_values v;
        for (int i = 0; i < 100; ++i) v.push_back({{{"endpoint", "we_" + std::to_string(i)}}, i});
        return v;
      },
      3);
  auto text = m.render();
  EXPECT_NE(text.find("# TYPE worst gauge\n"), std::string::npos);
  EXPECT_NE(text.find("worst{endpoint=\"we_2\"} 2\n"), std::string::npos);
  EXPECT_EQ(text.find("we_3"), std::string::npos) << text;
}

TEST(MetricsTest, ConcurrentIncrementsAreNotLost) {
  metrics m;
  auto& c = m.make_counter("c", "help");
  auto& g = m.make_gauge("g", "help");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        g.add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000u);
  EXPECT_EQ(g.value(), 40000.0);
}

}  // namespace
}  // namespace tresse::dispatcher
