#include "health/breaker.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace tresse::dispatcher::health {
namespace {

using namespace std::chrono_literals;
using state = breaker::state;
using verdict = breaker::verdict;

// An injected clock: tests move `now_` by hand.
class BreakerTest : public ::testing::Test {
 protected:
  breaker make(std::size_t threshold = 3) {
    return breaker(
        {.failure_threshold = threshold, .window = 10s, .cool_down = 30s, .max_cool_down = 100s});
  }
  void fail_n(breaker& b, int n) {
    for (int i = 0; i < n; ++i) b.on_failure(now_);
  }
  wall_time now_ = wall_time(std::chrono::hours(24 * 365 * 50));
};

TEST_F(BreakerTest, OpensAfterThresholdFailuresWithinTheWindow) {
  auto b = make();
  EXPECT_FALSE(b.on_failure(now_));
  EXPECT_FALSE(b.on_failure(now_));
  EXPECT_EQ(b.admit(now_), verdict::send);
  EXPECT_TRUE(b.on_failure(now_));
  EXPECT_EQ(b.current(now_), state::open);
  EXPECT_EQ(b.admit(now_), verdict::defer);
  EXPECT_EQ(b.open_until(), now_ + 30s);
}

TEST_F(BreakerTest, ForgetsFailuresOutsideTheWindow) {
  auto b = make();
  fail_n(b, 2);
  now_ += 11s;
  EXPECT_FALSE(b.on_failure(now_));
  EXPECT_EQ(b.current(now_), state::closed);
}

TEST_F(BreakerTest, SuccessResetsTheCount) {
  auto b = make();
  fail_n(b, 2);
  EXPECT_FALSE(b.on_success(now_));
  fail_n(b, 2);
  EXPECT_EQ(b.current(now_), state::closed);
}

TEST_F(BreakerTest, HalfOpenLetsOneProbeThrough) {
  auto b = make();
  fail_n(b, 3);
  now_ += 29s;
  EXPECT_EQ(b.admit(now_), verdict::defer);
  now_ += 1s;
  EXPECT_EQ(b.current(now_), state::half_open);
  EXPECT_EQ(b.admit(now_), verdict::probe);
  EXPECT_EQ(b.admit(now_), verdict::defer);  // one probe at a time
  b.probe_abandoned();                       // e.g. another instance holds the lease
  EXPECT_EQ(b.admit(now_), verdict::probe);
}

TEST_F(BreakerTest, ProbeSuccessCloses) {
  auto b = make();
  fail_n(b, 3);
  now_ += 30s;
  ASSERT_EQ(b.admit(now_), verdict::probe);
  EXPECT_TRUE(b.on_success(now_));
  EXPECT_EQ(b.current(now_), state::closed);
  EXPECT_EQ(b.admit(now_), verdict::send);
}

TEST_F(BreakerTest, ProbeFailureReopensWithADoubledCoolDownUpToTheMax) {
  auto b = make();
  fail_n(b, 3);
  std::chrono::milliseconds want[] = {60s, 100s, 100s};
  for (auto w : want) {
    now_ = b.open_until();
    ASSERT_EQ(b.admit(now_), verdict::probe);
    EXPECT_TRUE(b.on_failure(now_));
    EXPECT_EQ(b.current_cool_down(), w);
    EXPECT_EQ(b.open_until(), now_ + w);
  }
  now_ = b.open_until();
  ASSERT_EQ(b.admit(now_), verdict::probe);
  b.on_success(now_);
  fail_n(b, 3);
  EXPECT_EQ(b.current_cool_down(), 30s);  // back to the base after closing
}

TEST_F(BreakerTest, LateFailuresWhileOpenDoNotExtendIt) {
  auto b = make();
  fail_n(b, 3);
  auto until = b.open_until();
  now_ += 1s;
  EXPECT_FALSE(b.on_failure(now_));  // sent before it opened
  EXPECT_EQ(b.open_until(), until);
}

TEST_F(BreakerTest, AdoptsAnotherInstancesState) {
  auto b = make();
  b.adopt_open(now_ + 5s);
  EXPECT_EQ(b.admit(now_), verdict::defer);
  b.adopt_open(now_ + 1s);  // older news: ignored
  EXPECT_EQ(b.open_until(), now_ + 5s);
  b.adopt_closed();
  EXPECT_EQ(b.admit(now_), verdict::send);
}

TEST_F(BreakerTest, ThresholdZeroNeverOpens) {
  auto b = make(0);
  fail_n(b, 100);
  EXPECT_EQ(b.current(now_), state::closed);
}

}  // namespace
}  // namespace tresse::dispatcher::health
