#include "health/read_cache.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tresse::dispatcher::health {
namespace {

using namespace std::chrono_literals;
using clock = read_cache::clock;

read_result read_of(std::size_t attempts_a, std::size_t attempts_b) {
  read_result r;
  endpoint_report a, b;
  a.attempts = attempts_a;
  b.attempts = attempts_b;
  r.views = {{a}, {b}};
  r.open_until = {std::nullopt, wall_time(std::chrono::seconds(1776594720))};
  return r;
}

TEST(HealthReadCacheTest, AnswersForAllIdsUntilTheReadIsASecondOld) {
  read_cache cache(1s);
  const std::vector<std::string> ids{"we_a", "we_b"};
  const auto t0 = clock::time_point(100s);
  EXPECT_FALSE(cache.find_all(ids, t0));  // never read

  const auto put = cache.put(ids, read_of(3, 4), t0);
  ASSERT_EQ(put.size(), 2u);
  EXPECT_EQ(put[0]->views.at(0).attempts, 3u);
  EXPECT_FALSE(put[0]->open_until);
  EXPECT_TRUE(put[1]->open_until);

  auto got = cache.find_all(ids, t0 + 999ms);
  ASSERT_TRUE(got);
  EXPECT_EQ((*got)[1]->views.at(0).attempts, 4u);  // in the ids' order
  EXPECT_FALSE(cache.find_all(ids, t0 + 1s));      // a second old: read again
}

TEST(HealthReadCacheTest, OneUnknownOrStaleIdMeansReadingThemAll) {
  read_cache cache(1s);
  const auto t0 = clock::time_point(100s);
  cache.put({"we_a", "we_b"}, read_of(1, 2), t0);
  EXPECT_FALSE(cache.find_all({"we_a", "we_c"}, t0));
  cache.put({"we_c"}, read_result{}, t0 + 800ms);  // a short read: no reports, no circuit
  EXPECT_FALSE(cache.find_all({"we_a", "we_c"}, t0 + 1100ms));  // we_a is stale
  auto c = cache.find_all({"we_c"}, t0 + 1100ms);
  ASSERT_TRUE(c);
  EXPECT_TRUE((*c)[0]->views.empty());
}

TEST(HealthReadCacheTest, IsBounded) {
  read_cache cache(1s, 3);
  const auto t0 = clock::time_point(100s);
  cache.put({"we_a", "we_b"}, read_of(1, 2), t0);
  cache.put({"we_c", "we_d"}, read_of(1, 2), t0);  // over 3: cleared first
  EXPECT_FALSE(cache.find_all({"we_a"}, t0));
  EXPECT_TRUE(cache.find_all({"we_c", "we_d"}, t0));
}

}  // namespace
}  // namespace tresse::dispatcher::health
