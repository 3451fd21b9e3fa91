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

// The text each entry renders once is the one append_api_json(merge(...)) gives at that
// moment: an open circuit before its open_until, half-open from it on, and disabled.
TEST(HealthReadCacheTest, RendersTheApiHealthAsMergeWouldAtThatMoment) {
  read_cache cache(1s);
  read_result r = read_of(10, 0);
  r.views[0][0].success_rate = 0.1;
  const auto e = cache.put({"we_a", "we_b"}, r, clock::time_point(100s));
  const wall_time until = *e[1]->open_until;
  auto expected = [&](std::size_t i, bool enabled, wall_time now) {
    std::string text;
    append_api_json(text, merge(enabled, r.views[i], r.open_until[i], now));
    return text;
  };
  for (const wall_time now : {until - 1s, until, until + 1s}) {
    for (const bool enabled : {true, false}) {
      EXPECT_EQ(e[0]->api_json(enabled, now), expected(0, enabled, now));
      EXPECT_EQ(e[1]->api_json(enabled, now), expected(1, enabled, now));
    }
  }
  EXPECT_NE(e[1]->api_json(true, until - 1s).find("\"circuit_open\""), std::string::npos);
  EXPECT_NE(e[1]->api_json(true, until).find("\"circuit_half_open\""), std::string::npos);
  EXPECT_NE(e[0]->api_json(true, until).find("\"failing\""), std::string::npos);
  EXPECT_NE(e[0]->api_json(false, until).find("\"disabled\""), std::string::npos);
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
