#include "admin/metrics.hpp"

#include <gtest/gtest.h>

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
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"0.10000000000000001\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"1\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"+Inf\"} 4\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_count 4\n"), std::string::npos);
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
