// End to end: the circuit breaker, shared by two dispatcher instances through Redis. An
// endpoint failing every attempt opens its circuit; both instances then spare it (one probe per
// cool-down between them); once it answers again, a probe closes the circuit and the deferred
// deliveries all arrive.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace tresse::test {
namespace {

class CircuitBreakerTest : public integration_test {};

TEST_F(CircuitBreakerTest, OpensProbesAndClosesAcrossInstances) {
  std::atomic<bool> failing{true};
  recording_sink sink(
      [&](const received_request&) { return sink_reply{.status = failing ? 500u : 200u}; });
  auto ep = create_endpoint("biz_cb", sink.url(), "*");
  const std::vector<std::string> settings = {
      "delivery.breaker_failures=3", "delivery.breaker_window=30s", "delivery.breaker_cool_down=1s",
      "delivery.breaker_max_cool_down=1s", "delivery.endpoint_concurrency=1",
      // Many quick retries, so that an instance not sharing the circuit would hammer away; the
      // first after 1 s, so that the other instance has synced the open circuit before its
      // first claim (else it may open its own after its own 3 failures: also correct).
      "delivery.retry_schedule=1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s"};
  auto& a = start_dispatcher(settings);
  auto& b = start_dispatcher(settings);
  auto has_partitions = [](const nlohmann::json& j) {
    return j.contains("partitions") && !j["partitions"].empty();
  };
  ASSERT_TRUE(a.wait_for_log("kafka partitions assigned", has_partitions)) << a.log_text();
  ASSERT_TRUE(b.wait_for_log("kafka partitions assigned", has_partitions)) << b.log_text();

  std::vector<events::event> evs;
  for (int i = 0; i < 10; ++i) evs.push_back(make_event("client.created", "biz_cb"));
  publish(evs);

  // One instance (the partition's owner) opens the circuit; the other adopts it from Redis.
  auto opened = [&](const dispatcher_process& d) {
    return d.wait_for_log("circuit opened", {}, 0ms).has_value();
  };
  ASSERT_TRUE(eventually_true([&] { return opened(a) || opened(b); }));
  auto& owner = opened(a) ? a : b;
  auto& other = opened(a) ? b : a;
  ASSERT_TRUE(other.wait_for_log("circuit opened by another instance")) << other.log_text();

  // While it stays down: at most one probe per 1 s cool-down, from both instances together
  // (without sharing: a probe per instance, and the other's retries at 10/s).
  std::this_thread::sleep_for(500ms);
  auto before = sink.count();
  std::this_thread::sleep_for(6s);
  auto during = sink.count() - before;
  EXPECT_LE(during, 7u) << "requests to an open circuit in 6 s";
  EXPECT_GE(during, 1u) << "no probe at all";
  EXPECT_LT(sink.delivered_ids().size(), evs.size());

  // It recovers: a probe succeeds, the circuit closes everywhere, the backlog arrives.
  failing = false;
  ASSERT_TRUE(sink.wait_for_delivered(evs.size())) << sink.delivered_ids().size();
  EXPECT_TRUE(eventually_true([&] {
    return owner.wait_for_log("circuit closed", {}, 0ms).has_value() ||
           other.wait_for_log("circuit closed", {}, 0ms).has_value();
  }));
}

}  // namespace
}  // namespace tresse::test
