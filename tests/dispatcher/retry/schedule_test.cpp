#include "retry/schedule.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace tresse::dispatcher::retry {
namespace {

using namespace std::chrono_literals;

schedule with_rng(double u, schedule_options opts = {}) {
  return schedule(std::move(opts), [u] { return u; });
}

TEST(ScheduleTest, DefaultMatchesDesignWithoutJitterAtMidpoint) {
  auto s = with_rng(0.5);
  const std::vector<milliseconds> expected = {5s, 5min, 30min, 2h, 5h, 10h, 10h};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    auto d = s.next_delay(static_cast<int>(i) + 1);
    ASSERT_TRUE(d.has_value()) << i;
    EXPECT_EQ(*d, expected[i]) << i;
  }
  EXPECT_EQ(s.max_attempts(), 8);
  EXPECT_EQ(s.max_delay(), 10h);
}

TEST(ScheduleTest, JitterStaysWithinTwentyPercent) {
  auto low = with_rng(0.0);
  auto high = with_rng(0.999999);
  EXPECT_EQ(*low.next_delay(1), 4s);
  EXPECT_EQ(*low.next_delay(2), 4min);
  EXPECT_GE(*high.next_delay(1), 5999ms);
  EXPECT_LE(*high.next_delay(1), 6s);
  EXPECT_LE(*high.next_delay(7), 12h);
  EXPECT_GT(*high.next_delay(7), 11h + 59min);

  // The real RNG stays inside the bounds too.
  schedule real;
  for (int i = 0; i < 1000; ++i) {
    auto d = *real.next_delay(3);
    EXPECT_GE(d, 24min);
    EXPECT_LE(d, 36min);
  }
}

TEST(ScheduleTest, ExhaustedAfterTheLastDelay) {
  auto s = with_rng(0.5);
  EXPECT_TRUE(s.next_delay(7).has_value());
  EXPECT_FALSE(s.next_delay(8).has_value());
  EXPECT_FALSE(s.next_delay(100).has_value());

  auto short_schedule = with_rng(0.5, {.delays = {1s}, .jitter = 0.2});
  EXPECT_EQ(*short_schedule.next_delay(1), 1s);
  EXPECT_FALSE(short_schedule.next_delay(2).has_value());
  EXPECT_EQ(short_schedule.max_attempts(), 2);
}

TEST(ScheduleTest, RetryAfterIsNeverUndercut) {
  auto s = with_rng(0.5);
  // After attempt 1 the schedule says 5 s; the endpoint asked for 2 minutes.
  EXPECT_EQ(*s.next_delay(1, 2min), 2min);
  // A hint shorter than the schedule does not make the retry sooner.
  EXPECT_EQ(*s.next_delay(3, 10s), 30min);
}

TEST(ScheduleTest, RetryAfterIsBoundedByTheLongestDelay) {
  auto s = with_rng(0.5);
  EXPECT_EQ(*s.next_delay(1, 48h), 10h);
  // Bounded, but never below the jittered schedule itself.
  auto high = with_rng(0.999999);
  EXPECT_GT(*high.next_delay(7, 48h), 11h);
  // Exhaustion wins over a hint.
  EXPECT_FALSE(s.next_delay(8, 1s).has_value());
}

TEST(ScheduleTest, ConfiguredScheduleAndZeroJitter) {
  schedule s({10ms, 20ms}, 0.0);
  EXPECT_EQ(*s.next_delay(1), 10ms);
  EXPECT_EQ(*s.next_delay(2), 20ms);
  EXPECT_FALSE(s.next_delay(3).has_value());
  EXPECT_EQ(s.total_span(), 30ms);
}

}  // namespace
}  // namespace tresse::dispatcher::retry
