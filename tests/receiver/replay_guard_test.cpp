#include "tresse/receiver/replay_guard.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace tresse::receiver {
namespace {

using std::chrono::seconds;
using time_point = std::chrono::system_clock::time_point;

const time_point kNow = time_point(seconds(1776594720));

TEST(ReplayGuardTest, RejectsSecondSightingOfAnId) {
  memory_replay_guard guard(10);
  EXPECT_TRUE(guard.remember("evt_1", kNow, kNow + seconds(300)));
  EXPECT_FALSE(guard.remember("evt_1", kNow, kNow + seconds(300)));
  EXPECT_FALSE(guard.remember("evt_1", kNow + seconds(299), kNow + seconds(600)));
  EXPECT_EQ(guard.size(), 1U);
}

TEST(ReplayGuardTest, KeepsIdsApart) {
  memory_replay_guard guard(10);
  EXPECT_TRUE(guard.remember("evt_1", kNow, kNow + seconds(300)));
  EXPECT_TRUE(guard.remember("evt_2", kNow, kNow + seconds(300)));
  EXPECT_TRUE(guard.remember("EVT_1", kNow, kNow + seconds(300)));  // ids are case-sensitive
  EXPECT_TRUE(guard.remember(std::string_view("evt_1\0", 6), kNow, kNow + seconds(300)));
  EXPECT_EQ(guard.size(), 4U);
}

TEST(ReplayGuardTest, ForgetsIdsOnceExpired) {
  memory_replay_guard guard(10);
  EXPECT_TRUE(guard.remember("evt_1", kNow, kNow + seconds(300)));
  EXPECT_FALSE(guard.remember("evt_1", kNow + seconds(300) - std::chrono::nanoseconds(1),
                              kNow + seconds(900)));
  EXPECT_TRUE(guard.remember("evt_1", kNow + seconds(300), kNow + seconds(900)));
  EXPECT_FALSE(guard.remember("evt_1", kNow + seconds(301), kNow + seconds(900)));
}

TEST(ReplayGuardTest, PurgesExpiredIds) {
  memory_replay_guard guard(100);
  for (int i = 0; i < 50; ++i) {
    EXPECT_TRUE(guard.remember("evt_" + std::to_string(i), kNow, kNow + seconds(10)));
  }
  EXPECT_EQ(guard.size(), 50U);
  EXPECT_TRUE(guard.remember("later", kNow + seconds(10), kNow + seconds(20)));
  EXPECT_EQ(guard.size(), 1U);
}

TEST(ReplayGuardTest, DoesNotStoreAlreadyExpiredIds) {
  memory_replay_guard guard(10);
  EXPECT_TRUE(guard.remember("evt_1", kNow, kNow));
  EXPECT_TRUE(guard.remember("evt_1", kNow, kNow - seconds(1)));
  EXPECT_EQ(guard.size(), 0U);
}

TEST(ReplayGuardTest, StaysWithinCapacity) {
  memory_replay_guard guard(3);
  EXPECT_TRUE(guard.remember("a", kNow, kNow + seconds(30)));
  EXPECT_TRUE(guard.remember("b", kNow, kNow + seconds(10)));  // closest to expiry
  EXPECT_TRUE(guard.remember("c", kNow, kNow + seconds(20)));
  EXPECT_TRUE(guard.remember("d", kNow, kNow + seconds(40)));
  EXPECT_EQ(guard.size(), 3U);
  EXPECT_FALSE(guard.remember("a", kNow, kNow + seconds(30)));
  EXPECT_FALSE(guard.remember("c", kNow, kNow + seconds(30)));
  EXPECT_FALSE(guard.remember("d", kNow, kNow + seconds(30)));
  EXPECT_TRUE(guard.remember("b", kNow, kNow + seconds(10)));  // b was evicted
  EXPECT_EQ(guard.size(), 3U);

  for (int i = 0; i < 1000; ++i) guard.remember(std::to_string(i), kNow, kNow + seconds(60));
  EXPECT_EQ(guard.size(), 3U);
}

TEST(ReplayGuardTest, ZeroCapacityStillGuardsTheLatestId) {
  memory_replay_guard guard(0);
  EXPECT_TRUE(guard.remember("a", kNow, kNow + seconds(30)));
  EXPECT_FALSE(guard.remember("a", kNow, kNow + seconds(30)));
  EXPECT_EQ(guard.size(), 1U);
}

TEST(ReplayGuardTest, ForgetAllowsRedelivery) {
  memory_replay_guard guard(10);
  EXPECT_TRUE(guard.remember("evt_1", kNow, kNow + seconds(300)));
  guard.forget("evt_1");
  EXPECT_EQ(guard.size(), 0U);
  EXPECT_TRUE(guard.remember("evt_1", kNow, kNow + seconds(300)));
  guard.forget("never-seen");  // a no-op
  EXPECT_EQ(guard.size(), 1U);
}

TEST(ReplayGuardTest, AcceptsEachIdOnceUnderConcurrency) {
  memory_replay_guard guard(100000);
  constexpr int kThreads = 4;
  constexpr int kIds = 2000;
  std::atomic<int> first{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIds; ++i) {
        // Each thread walks the ids from a different place, so they race on every id.
        const std::string id = "evt_" + std::to_string((i + t * kIds / kThreads) % kIds);
        if (guard.remember(id, kNow, kNow + seconds(300))) ++first;
        if (i % 7 == 0) guard.size();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(first.load(), kIds);
  EXPECT_EQ(guard.size(), static_cast<std::size_t>(kIds));
}

}  // namespace
}  // namespace tresse::receiver
