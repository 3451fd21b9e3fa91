#include "health/merged.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tresse::dispatcher::health {
namespace {

using namespace std::chrono_literals;

endpoint_report view(std::size_t attempts, double success_rate, std::string state = "healthy") {
  endpoint_report r;
  r.attempts = attempts;
  r.success_rate = success_rate;
  r.state = std::move(state);
  r.p99_ms = static_cast<std::int64_t>(attempts);  // distinct per view
  return r;
}

const wall_time now = wall_time(std::chrono::seconds(1776594720));

TEST(MergedHealthTest, StatesFollowTheSharedCircuitThenTheInstancesTogether) {
  EXPECT_EQ(merge(true, {}, std::nullopt, now).state, "idle");
  // 2 of 10 and 8 of 10: half of 20 succeeded, not under half: healthy.
  auto m = merge(true, {view(10, 0.2), view(10, 0.8)}, std::nullopt, now);
  EXPECT_EQ(m.state, "healthy");
  EXPECT_EQ(m.attempts, 20u);
  EXPECT_DOUBLE_EQ(m.success_rate, 0.5);
  EXPECT_EQ(m.p99_ms, 10);  // the worst instance's
  EXPECT_EQ(m.instances, 2u);
  EXPECT_EQ(merge(true, {view(10, 0.2), view(2, 0.5)}, std::nullopt, now).state, "failing");
  EXPECT_EQ(merge(true, {view(10, 1), view(3, 1, "throttled")}, std::nullopt, now).state,
            "throttled");
  auto open = merge(true, {view(10, 1)}, now + 30s, now);
  EXPECT_EQ(open.state, "circuit_open");
  EXPECT_EQ(open.breaker, "open");
  EXPECT_EQ(merge(true, {}, now - 1s, now).state, "circuit_half_open");
  EXPECT_EQ(merge(false, {view(10, 0)}, now + 30s, now).state, "disabled");
}

TEST(MergedHealthTest, ReadsEveryInstancesReportAndTheSharedCircuitInOnePipeline) {
  redis::command_list c;
  add_read(c, {"we_a", "we_b"});
  EXPECT_EQ(c.size(), 3u);  // two HVALS, one ZMSCORE
  auto str = [](std::string s) {
    redis::reply r;
    r.type = redis::reply::kind::string;
    r.str = std::move(s);
    return r;
  };
  auto arr = [](std::vector<redis::reply> e) {
    redis::reply r;
    r.type = redis::reply::kind::array;
    r.elements = std::move(e);
    return r;
  };
  std::vector<redis::reply> replies = {
      arr({str(to_json(view(4, 0.25)).dump()), str("not json")}),
      arr({}),
      arr({redis::reply{}, str("1776594750000")}),  // we_a closed, we_b open until then
  };
  auto got = from_replies(replies, 0, {"we_a", "we_b"});
  ASSERT_EQ(got.views.size(), 2u);
  ASSERT_EQ(got.views[0].size(), 2u);  // a report that does not parse counts as idle
  EXPECT_EQ(got.views[0][0].attempts, 4u);
  EXPECT_TRUE(got.views[1].empty());
  EXPECT_FALSE(got.open_until[0]);
  EXPECT_EQ(got.open_until[1], wall_time(std::chrono::milliseconds(1776594750000)));
  EXPECT_EQ(merge(true, got.views[0], got.open_until[0], now).state, "failing");
  EXPECT_EQ(merge(true, got.views[1], got.open_until[1], now).state, "circuit_open");
  auto j = to_api_json(merge(true, got.views[1], got.open_until[1], now));
  EXPECT_EQ(j["circuit_open_until"], "2026-04-19T10:32:30Z");
  EXPECT_TRUE(j["success_rate"].is_null());
}

TEST(MergedHealthTest, TheApiObjectAsTextIsWhatNlohmannWouldPrint) {
  // Pages append it as text; GET of one endpoint parses that text: the two must agree.
  const auto now = wall_time(std::chrono::milliseconds(1776594720000));
  for (double rate : {1.0, 0.25, 2.0 / 3.0, 0.0}) {
    merged m;
    m.state = "failing";
    m.attempts = 12;
    m.success_rate = rate;
    m.open_until = now;
    std::string text;
    append_api_json(text, m);
    const nlohmann::json expected = {{"state", "failing"},
                                     {"attempts", 12},
                                     {"success_rate", rate},
                                     {"circuit_open_until", "2026-04-19T10:32:00Z"}};
    EXPECT_EQ(text, expected.dump()) << rate;
  }
  merged idle;
  idle.state = "idle";
  std::string text;
  append_api_json(text, idle);
  EXPECT_EQ(text, R"({"attempts":0,"circuit_open_until":null,"state":"idle","success_rate":null})");
}

}  // namespace
}  // namespace tresse::dispatcher::health
