#include "api/page_cache.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tresse::dispatcher::api {
namespace {

registry::endpoint sample(std::string id) {
  registry::endpoint ep;
  ep.id = std::move(id);
  ep.business_id = "biz_1";
  // Strings that look like the counters' keys must not be taken for them.
  ep.url = "https://example.com/\"failure_count\":0";
  ep.description = "\"consecutive_failures\":0 \"dead_lettered\":0";
  ep.events = {"appointment.*"};
  ep.created_at = ep.updated_at = registry::clock::time_point(std::chrono::seconds(1776594720));
  return ep;
}

TEST(PageCacheTest, RenderedItemsWithCountersMatchTheEndpointText) {
  auto ep = sample("we_1");
  auto item = page_cache::render(ep);
  EXPECT_TRUE(item.split);
  for (std::int64_t n :
       {std::int64_t{0}, std::int64_t{7}, std::int64_t{-1}, std::int64_t{1234567890123}}) {
    ep.failure_count = n;
    ep.consecutive_failures = n + 1;
    ep.dead_lettered = 2 * n;
    std::string out;
    item.append(out, page_cache::counters::of(ep));
    EXPECT_EQ(out, registry::to_json_text(ep));
  }
}

TEST(PageCacheTest, BodyIsThePageWithFreshCounters) {
  auto a = sample("we_a"), b = sample("we_b");
  page_cache::page p{42, {page_cache::render(a), page_cache::render(b)}, true, "we_b", {}};
  b.dead_lettered = 3;
  std::vector<page_cache::counters> counts{page_cache::counters::of(a),
                                           page_cache::counters::of(b)};
  auto j = nlohmann::json::parse(page_cache::body(p, counts));
  ASSERT_EQ(j["data"].size(), 2u);
  EXPECT_EQ(j["data"][0], registry::to_json(a));
  EXPECT_EQ(j["data"][1], registry::to_json(b));
  EXPECT_EQ(j["has_more"], true);
  EXPECT_EQ(j["next_cursor"], "cur_we_b");
  p.has_more = false;
  EXPECT_TRUE(nlohmann::json::parse(page_cache::body(p, counts))["next_cursor"].is_null());
}

TEST(PageCacheTest, FreshMembersGoInsideEachItem) {
  auto a = sample("we_a"), b = sample("we_b");
  page_cache::item whole = page_cache::render(b);
  whole.split = false;  // as an item whose text could not be split is kept
  whole.text = registry::to_json_text(b);
  page_cache::page p{1, {page_cache::render(a), whole}, false, "we_b", {}};
  std::vector<page_cache::counters> counts{page_cache::counters::of(a),
                                           page_cache::counters::of(b)};
  const std::vector<std::string> health{R"(,"health":{"state":"failing"})",
                                        R"(,"health":{"state":"idle"})"};
  auto j = nlohmann::json::parse(page_cache::body(p, counts, health));
  ASSERT_EQ(j["data"].size(), 2u);
  auto want_a = registry::to_json(a), want_b = registry::to_json(b);
  want_a["health"] = {{"state", "failing"}};
  want_b["health"] = {{"state", "idle"}};
  EXPECT_EQ(j["data"][0], want_a);
  EXPECT_EQ(j["data"][1], want_b);
}

TEST(PageCacheTest, FindsWhatWasPut) {
  page_cache cache;
  const auto now = std::chrono::system_clock::now();
  EXPECT_EQ(cache.find("k", now), nullptr);
  auto p = std::make_shared<page_cache::page>();
  p->version = 7;
  p->built_at = now;
  cache.put("k", p);
  ASSERT_NE(cache.find("k", now), nullptr);
  EXPECT_EQ(cache.find("k", now)->version, 7);
}

TEST(PageCacheTest, ForgetsPagesOlderThanMaxAge) {
  // A writer that died before bumping the version must not leave a stale page for ever.
  page_cache cache;
  const auto now = std::chrono::system_clock::now();
  auto p = std::make_shared<page_cache::page>();
  p->built_at = now;
  cache.put("k", p);
  EXPECT_NE(cache.find("k", now + page_cache::max_age - std::chrono::seconds(1)), nullptr);
  EXPECT_EQ(cache.find("k", now + page_cache::max_age), nullptr);
}

}  // namespace
}  // namespace tresse::dispatcher::api
