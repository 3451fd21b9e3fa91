// readiness: the checks run in the background, answers come from their last results at once.
#include "admin/readiness.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace tresse::dispatcher {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

bool eventually(const std::function<bool()>& what, std::chrono::milliseconds within = 3s) {
  const auto until = steady::now() + within;
  while (steady::now() < until) {
    if (what()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return what();
}

TEST(ReadinessTest, AnswersAtOnceWhileACheckHangs) {
  std::atomic<bool> release{false};
  std::atomic<int> kafka_calls{0};
  readiness_checks checks;
  checks.kafka = [&] {  // a broker that does not answer for a long while
    ++kafka_calls;
    while (!release) std::this_thread::sleep_for(1ms);
    return true;
  };
  checks.redis = [] { return true; };
  readiness ready(std::move(checks), 20ms);
  ASSERT_TRUE(eventually([&] { return ready.redis_ok(); }));
  const auto asked = steady::now();
  EXPECT_FALSE(ready.kafka_ok());  // not answered yet: not ready
  EXPECT_FALSE(ready.ready());
  EXPECT_LT(steady::now() - asked, 50ms);  // without waiting for the hanging check
  EXPECT_EQ(kafka_calls.load(), 1);
  release = true;
  EXPECT_TRUE(eventually([&] { return ready.ready(); }));
}

TEST(ReadinessTest, FollowsTheDependencyBothWays) {
  std::atomic<bool> up{true};
  readiness_checks checks;
  checks.redis = [&] { return up.load(); };
  readiness ready(std::move(checks), 10ms);
  EXPECT_TRUE(eventually([&] { return ready.redis_ok(); }));
  up = false;
  EXPECT_TRUE(eventually([&] { return !ready.redis_ok(); }));
  EXPECT_FALSE(ready.ready());
  up = true;
  EXPECT_TRUE(eventually([&] { return ready.redis_ok(); }));
  EXPECT_TRUE(ready.kafka_ok());  // not configured: passes
  EXPECT_FALSE(ready.has_proxy());
  EXPECT_TRUE(ready.proxy_ok());
}

TEST(ReadinessTest, AProxyThatTakesConnectionsButFailsDeliveriesIsNotReadyAtOnce) {
  std::atomic<bool> failing{false};
  readiness_checks checks;
  checks.proxy = [] { return true; };  // reachable
  checks.proxy_failing = [&] { return failing.load(); };
  // The background check runs once a minute here: the failing part must not wait for it.
  readiness ready(std::move(checks), 60s);
  ASSERT_TRUE(eventually([&] { return ready.proxy_ok(); }));
  failing = true;
  EXPECT_FALSE(ready.proxy_ok());
  EXPECT_FALSE(ready.ready());
  failing = false;
  EXPECT_TRUE(ready.proxy_ok());
}

TEST(ReadinessTest, StopsPromptlyBetweenChecks) {
  std::atomic<int> calls{0};
  auto made = steady::now();
  {
    readiness_checks checks;
    checks.redis = [&] {
      ++calls;
      return true;
    };
    readiness ready(std::move(checks), 60s);
    ASSERT_TRUE(eventually([&] { return ready.redis_ok(); }));
    made = steady::now();
  }  // the destructor must not sit out the 60 s interval
  EXPECT_LT(steady::now() - made, 1s);
  EXPECT_EQ(calls.load(), 1);
}

}  // namespace
}  // namespace tresse::dispatcher
