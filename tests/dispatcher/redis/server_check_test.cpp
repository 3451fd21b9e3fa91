#include "redis/server_check.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "support/redis_server.hpp"

namespace tresse::dispatcher::redis {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

TEST(ServerCheckTest, ReadsInfoFields) {
  const std::string info =
      "# Memory\r\nused_memory:1000\r\nmaxmemory_policy:allkeys-lru\r\nmaxmemory:0\r\n";
  EXPECT_EQ(info_field(info, "maxmemory_policy"), "allkeys-lru");
  EXPECT_EQ(info_field(info, "maxmemory"), "0");
  EXPECT_EQ(info_field(info, "used_memory"), "1000");
  EXPECT_FALSE(info_field(info, "maxmemory_p").has_value());
  EXPECT_FALSE(info_field("", "maxmemory").has_value());
}

TEST(ServerCheckTest, RefusesEveryEvictionPolicyButNoeviction) {
  for (const char* policy : {"allkeys-lru", "volatile-lru", "allkeys-lfu", "volatile-lfu",
                             "allkeys-random", "volatile-random", "volatile-ttl"}) {
    const auto s = assess({.maxmemory_policy = policy, .aof_enabled = true, .rdb_enabled = false});
    ASSERT_THAT(s.errors, SizeIs(1)) << policy;
    EXPECT_THAT(s.errors[0], HasSubstr(policy));
    EXPECT_THAT(s.errors[0], HasSubstr("noeviction"));
    EXPECT_THAT(s.errors[0], HasSubstr("scheduled retries"));  // says why
    EXPECT_THAT(s.warnings, IsEmpty());
  }
  const auto ok =
      assess({.maxmemory_policy = "noeviction", .aof_enabled = false, .rdb_enabled = true});
  EXPECT_THAT(ok.errors, IsEmpty());
  EXPECT_THAT(ok.warnings, IsEmpty());
}

TEST(ServerCheckTest, WarnsWithoutPersistenceOrWhenUnsure) {
  const auto none =
      assess({.maxmemory_policy = "noeviction", .aof_enabled = false, .rdb_enabled = false});
  EXPECT_THAT(none.errors, IsEmpty());
  ASSERT_THAT(none.warnings, SizeIs(1));
  EXPECT_THAT(none.warnings[0], HasSubstr("neither AOF nor RDB"));
  // CONFIG refused (managed Redis): RDB unknown, AOF off: say so, do not refuse.
  const auto unknown = assess({.maxmemory_policy = "noeviction", .aof_enabled = false});
  EXPECT_THAT(unknown.errors, IsEmpty());
  EXPECT_THAT(unknown.warnings, SizeIs(1));
  const auto silent = assess({.aof_enabled = true});
  EXPECT_THAT(silent.errors, IsEmpty());
  EXPECT_THAT(silent.warnings, SizeIs(1));
}

options options_of(const test::redis_server& server) {
  auto o = parse_url(server.url());
  EXPECT_TRUE(o.has_value());
  o->pool_size = 1;
  return *o;
}

TEST(ServerCheckTest, ReadsFactsFromARealRedis) {
  test::redis_server evicting({.extra = {"--maxmemory-policy", "allkeys-lru"}});  // no persistence
  client a(options_of(evicting));
  auto facts = read_server_facts(a);
  ASSERT_TRUE(facts.has_value()) << facts.error().message;
  EXPECT_EQ(facts->maxmemory_policy, "allkeys-lru");
  EXPECT_EQ(facts->aof_enabled, false);
  EXPECT_EQ(facts->rdb_enabled, false);
  EXPECT_THAT(assess(*facts).errors, SizeIs(1));

  test::redis_server safe({.persistence = true, .extra = {"--save", "900 1"}});
  client b(options_of(safe));
  facts = read_server_facts(b);
  ASSERT_TRUE(facts.has_value()) << facts.error().message;
  EXPECT_EQ(facts->maxmemory_policy, "noeviction");
  EXPECT_EQ(facts->aof_enabled, true);
  EXPECT_EQ(facts->rdb_enabled, true);
  EXPECT_THAT(assess(*facts).errors, IsEmpty());
  EXPECT_THAT(assess(*facts).warnings, IsEmpty());

  // CONFIG renamed away, as managed Redis services do: RDB unknown, the start goes on.
  test::redis_server managed({.persistence = true, .extra = {"--rename-command", "CONFIG", ""}});
  client m(options_of(managed));
  facts = read_server_facts(m);
  ASSERT_TRUE(facts.has_value()) << facts.error().message;
  EXPECT_EQ(facts->aof_enabled, true);
  EXPECT_FALSE(facts->rdb_enabled.has_value());
  EXPECT_THAT(assess(*facts).errors, IsEmpty());
}

TEST(ServerCheckTest, UnreachableIsTransient) {
  options o;
  o.port = 1;
  o.connect_timeout = std::chrono::milliseconds(300);
  client c(o);
  auto facts = read_server_facts(c);
  ASSERT_FALSE(facts.has_value());
  EXPECT_EQ(facts.error().kind, error_kind::transient);
}

}  // namespace
}  // namespace tresse::dispatcher::redis
