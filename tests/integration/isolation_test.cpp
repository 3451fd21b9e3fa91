// End to end: endpoint isolation. Endpoints that never answer (black holes) must not slow the
// delivery to the others: their deliveries are deferred to the retry schedule once their own
// slots and queue are full, so their Kafka records are handed off and the consumer never pauses.
// A small version of bench/isolation_bench.sh.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "harness.hpp"

namespace tresse::test {
namespace {

using steady = std::chrono::steady_clock;

class IsolationTest : public integration_test {
 protected:
  // Publishes `rounds` batches, one event per business of `businesses` each, every 50 ms, and
  // remembers when each event was published.
  void publish_paced(const std::vector<std::string>& businesses, int rounds) {
    for (int r = 0; r < rounds; ++r) {
      std::vector<events::event> batch;
      for (const auto& b : businesses) batch.push_back(make_event("client.created", b));
      auto at = steady::now();
      for (const auto& e : batch) published_[e.id] = at;
      publish(batch);
      std::this_thread::sleep_until(at + 50ms);
    }
  }

  // First-arrival latency of each published event the sink received.
  std::vector<double> latencies_ms(const recording_sink& sink) const {
    std::map<std::string, steady::time_point> first;
    for (const auto& r : sink.requests()) first.emplace(r.header("webhook-id"), r.at);
    std::vector<double> out;
    for (const auto& [id, at] : first) {
      auto p = published_.find(id);
      if (p == published_.end()) continue;
      out.push_back(std::chrono::duration<double, std::milli>(at - p->second).count());
    }
    return out;
  }

  static double p99(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, v.size() * 99 / 100)];
  }

  std::map<std::string, steady::time_point> published_;
};

TEST_F(IsolationTest, BlackHoleEndpointsDoNotSlowTheOthers) {
  recording_sink good;
  recording_sink black_hole([](const received_request&) { return sink_reply{.hang = true}; });
  std::vector<std::string> good_businesses, all_businesses;
  for (int i = 0; i < 8; ++i) {
    good_businesses.push_back("biz_good" + std::to_string(i));
    create_endpoint(good_businesses.back(), good.url("/g" + std::to_string(i)), "*");
  }
  all_businesses = good_businesses;
  for (int i = 0; i < 4; ++i) {
    all_businesses.push_back("biz_hole" + std::to_string(i));
    create_endpoint(all_businesses.back(), black_hole.url(), "*");
  }
  // Small limits so that, without isolation, the black holes' records alone would exceed
  // max_pending and pause the consumer for the whole 10 s timeout.
  auto& d =
      start_dispatcher({"kafka.max_pending=60", "delivery.timeout=10s",
                        "delivery.endpoint_concurrency=2", "delivery.endpoint_queue_limit=5",
                        "delivery.endpoint_queue_timeout=500ms", "delivery.endpoint_stall_after=100ms",
                        "delivery.retry_schedule=30s"});
  auto has_partitions = [](const nlohmann::json& j) {
    return j.contains("partitions") && !j["partitions"].empty();
  };
  ASSERT_TRUE(d.wait_for_log("kafka partitions assigned", has_partitions)) << d.log_text();

  // Baseline: the healthy endpoints alone.
  const int rounds = 20;
  auto start = steady::now();
  publish_paced(good_businesses, rounds);
  ASSERT_TRUE(good.wait_for_ids(good_businesses.size() * rounds));
  auto baseline_s = std::chrono::duration<double>(steady::now() - start).count();
  auto baseline = latencies_ms(good);
  auto baseline_count = good.count();

  // Same load on the healthy endpoints, now interleaved with as many events to black holes.
  start = steady::now();
  publish_paced(all_businesses, rounds);
  ASSERT_TRUE(good.wait_for_ids(2 * good_businesses.size() * rounds));
  auto mixed_s = std::chrono::duration<double>(steady::now() - start).count();
  // The second phase's events are those first seen after the baseline's requests.
  std::vector<double> mixed;
  {
    std::map<std::string, steady::time_point> first;
    auto reqs = good.requests();
    for (std::size_t i = baseline_count; i < reqs.size(); ++i) {
      first.emplace(reqs[i].header("webhook-id"), reqs[i].at);
    }
    for (const auto& [id, at] : first) {
      mixed.push_back(std::chrono::duration<double, std::milli>(at - published_[id]).count());
    }
  }
  ASSERT_EQ(mixed.size(), good_businesses.size() * rounds);

  // Generous bounds for a shared 2-core machine; without isolation the consumer pauses and
  // the healthy endpoints wait out the black holes' 10 s timeouts.
  double p99_base = p99(baseline), p99_mixed = p99(mixed);
  EXPECT_LT(p99_mixed, std::max(2 * p99_base, p99_base + 500))
      << "p99 first-attempt latency, ms: baseline " << p99_base << ", with black holes "
      << p99_mixed;
  EXPECT_LT(mixed_s, baseline_s + 2) << "seconds to deliver: " << baseline_s << " vs " << mixed_s;
  EXPECT_FALSE(d.wait_for_log("kafka consumer paused: too much in flight", {}, 0ms))
      << "a black hole made Kafka backpressure engage";
  EXPECT_GT(black_hole.count(), 0u);
  // The black holes' queued deliveries went to the retry schedule without a request.
  auto [status, metrics] = http_get(d.admin_port(), "/metrics");
  EXPECT_NE(metrics.find(R"(tresse_deliveries_total{outcome="deferred"})"), std::string::npos);
  EXPECT_EQ(metrics.find(R"(tresse_deliveries_total{outcome="deferred"} 0)"), std::string::npos)
      << metrics;
}

}  // namespace
}  // namespace tresse::test
