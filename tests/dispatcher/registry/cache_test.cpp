#include "registry/cache.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "redis/client.hpp"
#include "redis/keys.hpp"
#include "registry/store.hpp"
#include "support/redis_server.hpp"

namespace tresse::dispatcher::registry {
namespace {

using namespace std::chrono_literals;

// Polls `done` until it holds or a generous deadline passes (a loaded machine is slow).
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

std::set<std::string> ids(const std::vector<std::shared_ptr<const endpoint>>& eps) {
  std::set<std::string> out;
  for (const auto& e : eps) out.insert(e->id);
  return out;
}

class CacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opts = *redis::parse_url(server_.url());
    opts.connect_timeout = 500ms;
    opts.command_timeout = 500ms;
    store_ = std::make_unique<store>(std::make_shared<redis::client>(opts));
  }

  endpoint create(std::string business, std::vector<std::string> events, bool livemode = true) {
    auto ep = store_->create({.business_id = std::move(business),
                              .url = "https://example.com/hook",
                              .events = std::move(events),
                              .livemode = livemode});
    EXPECT_TRUE(ep.has_value());
    return *ep;
  }

  test::redis_server server_;
  std::unique_ptr<store> store_;
};

TEST_F(CacheTest, MatchesWildcardsModeAndEnabled) {
  auto appointments = create("biz_1", {"appointment.*"});
  auto client_created = create("biz_1", {"client.created"});
  auto everything_test = create("biz_1", {"*"}, /*livemode=*/false);
  auto disabled = create("biz_1", {"*"});
  ASSERT_TRUE(*store_->disable(disabled.id, "410 Gone"));
  auto other_business = create("biz_2", {"*"});

  cache c(*store_);
  ASSERT_TRUE(c.refresh().has_value());
  EXPECT_EQ(ids(c.matching("biz_1", "appointment.created", true)),
            std::set<std::string>{appointments.id});
  EXPECT_EQ(ids(c.matching("biz_1", "client.created", true)),
            std::set<std::string>{client_created.id});
  EXPECT_EQ(ids(c.matching("biz_1", "client.created", false)),
            std::set<std::string>{everything_test.id});
  EXPECT_TRUE(c.matching("biz_1", "client.deleted", true).empty());
  EXPECT_TRUE(c.matching("biz_3", "client.created", true).empty());
  EXPECT_EQ(ids(c.matching("biz_2", "webhook.test", true)),
            std::set<std::string>{other_business.id});

  // find() sees disabled endpoints too (retries of a disabled endpoint need to know why).
  auto found = c.find(disabled.id);
  ASSERT_NE(found, nullptr);
  EXPECT_FALSE(found->enabled);
  EXPECT_EQ(c.find("we_unknown"), nullptr);
}

TEST_F(CacheTest, SeesChangesWithinAboutASecond) {
  cache c(*store_, {.refresh_interval = 100ms});
  ASSERT_TRUE(c.start().has_value());
  EXPECT_EQ(c.size(), 0u);

  auto started = std::chrono::steady_clock::now();
  auto ep = create("biz_1", {"appointment.*"});
  ASSERT_TRUE(eventually([&] { return c.find(ep.id) != nullptr; }));
  // ~1 s is the promise; allow for a loaded machine without losing the point.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);

  ASSERT_TRUE(store_->update(ep.id, {.events = std::vector<std::string>{"client.*"}}).has_value());
  ASSERT_TRUE(eventually([&] { return !c.matching("biz_1", "client.updated", true).empty(); }));
  EXPECT_TRUE(c.matching("biz_1", "appointment.created", true).empty());

  ASSERT_TRUE(*store_->remove(ep.id));
  ASSERT_TRUE(eventually([&] { return c.find(ep.id) == nullptr; }));
  c.stop();
}

// A writer that died after writing a record but before bumping the version: the cache sees the
// change at its next full refresh, not never.
TEST_F(CacheTest, ReloadsWithoutAVersionBumpAtTheFullRefresh) {
  auto ep = create("biz_1", {"appointment.*"});
  cache c(*store_, {.refresh_interval = 20ms, .full_refresh_interval = 300ms});
  ASSERT_TRUE(c.start().has_value());
  ASSERT_NE(c.find(ep.id), nullptr);
  redis::client raw(*redis::parse_url(server_.url()));
  const std::string key = redis::keys::endpoint(ep.id);
  auto record = nlohmann::json::parse(raw.command({"GET", key})->str);
  record["url"] = "https://example.com/changed";
  const auto version = store_->version().value();
  ASSERT_TRUE(raw.command({"SET", key, record.dump()}).has_value());
  ASSERT_TRUE(eventually([&] { return c.find(ep.id)->url == "https://example.com/changed"; }));
  EXPECT_EQ(store_->version().value(), version);
  c.stop();
}

TEST_F(CacheTest, KeepsServingLastSnapshotWhileRedisIsDown) {
  auto ep = create("biz_1", {"appointment.*"});
  cache c(*store_, {.refresh_interval = 50ms});
  ASSERT_TRUE(c.start().has_value());
  ASSERT_NE(c.find(ep.id), nullptr);

  server_.stop();
  auto failed = c.refresh();
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().kind, error_kind::transient);
  std::this_thread::sleep_for(200ms);  // a few background refreshes fail meanwhile
  EXPECT_EQ(ids(c.matching("biz_1", "appointment.created", true)), std::set<std::string>{ep.id});

  // Redis comes back empty (no persistence): the cache follows it.
  server_.start();
  auto later = create("biz_1", {"client.*"});
  ASSERT_TRUE(eventually([&] { return c.find(later.id) != nullptr; }));
  EXPECT_EQ(c.find(ep.id), nullptr);
  c.stop();
}

TEST_F(CacheTest, StartFailsWhenRedisIsDownAndRecoversInBackground) {
  server_.stop();
  cache c(*store_, {.refresh_interval = 50ms});
  EXPECT_FALSE(c.start().has_value());
  EXPECT_EQ(c.version(), -1);
  server_.start();
  auto ep = create("biz_1", {"*"});
  ASSERT_TRUE(eventually([&] { return c.find(ep.id) != nullptr; }));
}

}  // namespace
}  // namespace tresse::dispatcher::registry
