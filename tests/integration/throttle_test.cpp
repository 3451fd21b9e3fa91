// End to end: adaptive throttling. An endpoint answering 429 and 503 sees the dispatcher's request
// rate drop to the floor, and climb again once it answers 200; a Retry-After pauses every delivery
// to the endpoint, not only the one that got it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace tresse::test {
namespace {

using steady = std::chrono::steady_clock;

class AdaptiveThrottlingTest : public integration_test {
 protected:
  // Requests the sink saw within [from, from + length).
  static std::size_t requests_between(const recording_sink& sink, steady::time_point from,
                                      std::chrono::milliseconds length) {
    std::size_t n = 0;
    for (const auto& r : sink.requests()) n += r.at >= from && r.at < from + length ? 1 : 0;
    return n;
  }
};

TEST_F(AdaptiveThrottlingTest, RateDropsOn429And503AndRecoversOnSuccess) {
  std::atomic<bool> overloaded{true};
  std::atomic<int> n{0};
  recording_sink sink([&](const received_request&) {
    // Both overload answers, alternately, without Retry-After: the rate alone must drop.
    const unsigned busy = n++ % 2 == 0 ? 503u : 429u;
    return sink_reply{.status = overloaded ? busy : 200u, .delay = 10ms};
  });
  create_endpoint("biz_t", sink.url(), "*");
  std::string retries = "delivery.retry_schedule=200ms";
  for (int i = 0; i < 30; ++i) retries += ",200ms";
  auto& d = start_dispatcher({"delivery.endpoint_concurrency=4", "delivery.breaker_failures=0",
                              "delivery.throttle_min_rate=2", "delivery.throttle_decrease=0.5",
                              "delivery.throttle_increase=40", retries});
  std::vector<events::event> evs;
  for (int i = 0; i < 300; ++i) evs.push_back(make_event("client.created", "biz_t"));
  publish(evs);

  ASSERT_TRUE(d.wait_for_log("endpoint throttled")) << d.log_text();
  // Halving every 200 ms reaches the floor (2/s) well within 2 s.
  std::this_thread::sleep_for(2s);
  const auto throttled_from = steady::now();
  std::this_thread::sleep_for(2s);
  const auto throttled = requests_between(sink, throttled_from, 2s);
  EXPECT_LE(throttled, 12u) << "requests in 2 s to an endpoint answering 429 and 503";
  EXPECT_GE(throttled, 1u);

  overloaded = false;
  std::this_thread::sleep_for(1s);
  const auto recovering_from = steady::now();
  std::this_thread::sleep_for(2s);
  const auto recovering = requests_between(sink, recovering_from, 2s);
  EXPECT_GE(recovering, std::max<std::size_t>(30, 3 * throttled))
      << "requests in 2 s once it answers 200 again (throttled: " << throttled << ")";
  EXPECT_TRUE(sink.wait_for_delivered(evs.size())) << sink.delivered_ids().size();
}

TEST_F(AdaptiveThrottlingTest, RetryAfterPausesTheWholeEndpoint) {
  std::atomic<int> seen{0};
  recording_sink sink([&](const received_request&) {
    if (seen++ == 0) return sink_reply{.status = 429, .headers = {{"Retry-After", "2"}}};
    return sink_reply{};
  });
  create_endpoint("biz_ra", sink.url(), "*");
  // The schedule's longest delay bounds a Retry-After: keep it above the 2 s asked for.
  start_dispatcher({"delivery.endpoint_concurrency=1", "delivery.endpoint_queue_timeout=10s",
                    "delivery.retry_schedule=5s"});
  std::vector<events::event> evs;
  for (int i = 0; i < 3; ++i) evs.push_back(make_event("client.created", "biz_ra"));
  publish(evs);

  ASSERT_TRUE(sink.wait_for_delivered(evs.size())) << sink.count();
  auto reqs = sink.requests();
  ASSERT_GE(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].answered, 429u);
  // The next request, another event's first attempt, waited out the Retry-After too.
  EXPECT_GE(reqs[1].at - reqs[0].at, 1900ms)
      << std::chrono::duration<double>(reqs[1].at - reqs[0].at).count() << " s";
}

// Deliveries waiting for their pace (throttled to 1/s) when the endpoint's failures open its
// circuit are deferred, not sent into it one a second: the isolation bench saw in-flight
// requests into black holes climb by one per endpoint and second after their circuits opened.
TEST_F(AdaptiveThrottlingTest, DeliveriesPacedBehindAnOpeningCircuitAreNotSent) {
  // The first ten (sent at once) fail 100 ms apart: the first throttles the endpoint to 1/s, each
  // failure frees a slot for a delivery paced a second after the one before, and the eighth
  // opens the circuit with several of those still waiting their turn.
  std::atomic<int> n{0};
  recording_sink sink([&](const received_request&) {
    const int k = n++;
    return sink_reply{.status = 503u, .delay = k < 10 ? k * 100ms : 0ms};
  });
  create_endpoint("biz_t", sink.url(), "*");
  auto& d = start_dispatcher({"delivery.endpoint_concurrency=10", "delivery.breaker_failures=8",
                              "delivery.breaker_cool_down=1m", "delivery.breaker_max_cool_down=1m",
                              "delivery.throttle_min_rate=1", "delivery.throttle_decrease=0.1",
                              "delivery.endpoint_queue_timeout=10s",
                              "delivery.retry_schedule=1m"});
  std::vector<events::event> evs;
  for (int i = 0; i < 20; ++i) evs.push_back(make_event("client.created", "biz_t"));
  publish(evs);
  ASSERT_TRUE(d.wait_for_log("circuit opened")) << d.log_text();
  std::this_thread::sleep_for(500ms);  // what was in flight at the opening has answered
  const auto open_from = steady::now();
  std::this_thread::sleep_for(5s);
  EXPECT_EQ(requests_between(sink, open_from, 5s), 0u)
      << "requests in 5 s to an endpoint whose circuit is open for a minute (" << sink.count()
      << " in all)";
}

}  // namespace
}  // namespace tresse::test
