#include "health/throttle.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace tresse::dispatcher::health {
namespace {

using namespace std::chrono_literals;

// An injected clock: tests move `now_` by hand.
class ThrottleTest : public ::testing::Test {
 protected:
  throttle make() { return throttle({.min_rate = 2, .decrease = 0.5, .increase = 10}); }
  // `n` requests evenly over one second, as a busy endpoint would see them.
  void run_for_a_second(throttle& t, int n) {
    for (int i = 0; i < n; ++i) {
      auto at = t.reserve(now_, 10s);
      ASSERT_TRUE(at);
      now_ = std::max(now_, *at) + 1s / n;
    }
  }
  steady_time now_ = steady_time(std::chrono::hours(1000));
};

TEST_F(ThrottleTest, UnlimitedUntilTheEndpointSignalsOverload) {
  auto t = make();
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(t.reserve(now_, 0s), now_);
  EXPECT_FALSE(t.rate());
}

TEST_F(ThrottleTest, OverloadHalvesTheObservedRate) {
  auto t = make();
  run_for_a_second(t, 100);
  t.on_overload(now_);
  ASSERT_TRUE(t.rate());
  EXPECT_NEAR(*t.rate(), 50, 1);
  // Paced at that rate: 20 ms apart.
  auto a = t.reserve(now_, 10s);
  auto b = t.reserve(now_, 10s);
  ASSERT_TRUE(a && b);
  EXPECT_NEAR(std::chrono::duration<double>(*b - *a).count(), 0.02, 0.001);
}

TEST_F(ThrottleTest, ABurstOfFailuresIsOneSignalThenKeepsHalvingToTheFloor) {
  auto t = make();
  run_for_a_second(t, 100);
  t.on_overload(now_);
  t.on_overload(now_ + 10ms);  // the same burst
  EXPECT_NEAR(*t.rate(), 50, 1);
  for (int i = 1; i <= 10; ++i) t.on_overload(now_ + i * 300ms);
  EXPECT_DOUBLE_EQ(*t.rate(), 2);  // min_rate
}

TEST_F(ThrottleTest, RecoversAdditivelyThenLiftsTheLimit) {
  auto t = make();
  run_for_a_second(t, 20);
  t.on_overload(now_);
  EXPECT_NEAR(*t.rate(), 10, 0.5);
  t.on_success(now_ + 1s);
  EXPECT_NEAR(*t.rate(), 20, 0.5);  // +10/s
  t.on_success(now_ + 2s);
  ASSERT_TRUE(t.rate());
  EXPECT_NEAR(*t.rate(), 30, 0.5);
  for (int i = 3; i < 10; ++i) t.on_success(now_ + i * 1s);
  EXPECT_FALSE(t.rate());  // back to twice the rate it was throttled at: unlimited
}

TEST_F(ThrottleTest, RetryAfterPausesEveryRequest) {
  auto t = make();
  t.on_overload(now_, 3s);
  EXPECT_EQ(t.paused_until(), now_ + 3s);
  EXPECT_FALSE(t.reserve(now_, 1s));  // would wait past the caller's limit: not booked
  auto at = t.reserve(now_, 5s);
  ASSERT_TRUE(at);
  EXPECT_GE(*at, now_ + 3s);
}

TEST_F(ThrottleTest, FixedRateAppliesEvenWhenHealthy) {
  auto t = make();
  t.set_fixed_rate(4);
  auto a = t.reserve(now_, 10s);
  auto b = t.reserve(now_, 10s);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*b - *a, 250ms);
  EXPECT_DOUBLE_EQ(*t.rate(), 4);
  EXPECT_FALSE(t.adaptive_rate());
}

TEST_F(ThrottleTest, ReserveBeyondTheWaitBooksNothing) {
  auto t = make();
  t.set_fixed_rate(1);
  ASSERT_TRUE(t.reserve(now_, 0s));
  EXPECT_FALSE(t.reserve(now_, 500ms));
  EXPECT_EQ(t.reserve(now_, 2s), now_ + 1s);  // the refused one took no slot
}

}  // namespace
}  // namespace tresse::dispatcher::health
