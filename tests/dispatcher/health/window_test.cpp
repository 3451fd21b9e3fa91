#include "health/window.hpp"

#include <gtest/gtest.h>

namespace tresse::dispatcher::health {
namespace {

using namespace std::chrono_literals;

TEST(OutcomeWindowTest, EmptyHasNoRateNorLatency) {
  outcome_window w;
  EXPECT_EQ(w.success_rate(), -1);
  EXPECT_FALSE(w.latency_percentile(0.5));
}

TEST(OutcomeWindowTest, SuccessRateAndPercentiles) {
  outcome_window w;
  for (int i = 1; i <= 100; ++i) w.record(i % 4 != 0, std::chrono::milliseconds(i));
  EXPECT_DOUBLE_EQ(w.success_rate(), 0.75);
  EXPECT_EQ(w.latency_percentile(0.5), 50ms);
  EXPECT_EQ(w.latency_percentile(0.99), 99ms);
  EXPECT_EQ(w.latency_percentile(1.0), 100ms);
}

TEST(OutcomeWindowTest, KeepsOnlyTheLastAttempts) {
  outcome_window w(10);
  for (int i = 0; i < 10; ++i) w.record(false, std::nullopt);  // timeouts: no latency
  for (int i = 0; i < 5; ++i) w.record(true, 7ms);
  EXPECT_EQ(w.size(), 10u);
  EXPECT_DOUBLE_EQ(w.success_rate(), 0.5);
  EXPECT_EQ(w.latency_percentile(0.99), 7ms);
}

}  // namespace
}  // namespace tresse::dispatcher::health
