#include "redis/sentinel.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/process.hpp"

namespace tresse::dispatcher::redis {
namespace {

reply str(std::string s) {
  reply r;
  r.type = reply::kind::string;
  r.str = std::move(s);
  return r;
}

reply array(std::vector<reply> elements) {
  reply r;
  r.type = reply::kind::array;
  r.elements = std::move(elements);
  return r;
}

reply integer(std::int64_t n) {
  reply r;
  r.type = reply::kind::integer;
  r.integer = n;
  return r;
}

reply error_reply(std::string s) {
  reply r;
  r.type = reply::kind::error;
  r.str = std::move(s);
  return r;
}

TEST(SentinelTest, ParsesSentinelUrl) {
  auto o =
      parse_url("redis+sentinel://app:p%40ss@s1.internal:26380,s2.internal,[::1]:26400/mymaster/3");
  ASSERT_TRUE(o.has_value()) << o.error().message;
  ASSERT_TRUE(o->uses_sentinel());
  EXPECT_EQ(o->sentinels,
            (std::vector<address>{{"s1.internal", 26380}, {"s2.internal", 26379}, {"::1", 26400}}));
  EXPECT_EQ(o->master_name, "mymaster");
  EXPECT_EQ(o->db, 3);
  EXPECT_EQ(o->user, "app");
  EXPECT_EQ(o->password, "p@ss");

  auto one = parse_url("redis+sentinel://127.0.0.1:26379/primary");
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->sentinels.size(), 1u);
  EXPECT_EQ(one->master_name, "primary");
  EXPECT_EQ(one->db, 0);
  EXPECT_TRUE(one->password.empty());

  auto plain = parse_url("redis://h:7000/1");
  ASSERT_TRUE(plain.has_value());
  EXPECT_FALSE(plain->uses_sentinel());
}

TEST(SentinelTest, RejectsBadSentinelUrlsWithoutEchoingThem) {
  for (const char* url :
       {"redis+sentinel://:hunter2@s1:26379", "redis+sentinel://:hunter2@s1:26379/",
        "redis+sentinel://:hunter2@s1:26379,/mymaster", "redis+sentinel://:hunter2@s1:99999/m",
        "redis+sentinel://:hunter2@,s2/m", "redis+sentinel://:hunter2@s1/m/x",
        "redis+sentinel://:hunter2@s1/m%20x", "redis://:hunter2@s1,s2:6379/0"}) {
    auto o = parse_url(url);
    ASSERT_FALSE(o.has_value()) << url;
    EXPECT_EQ(o.error().kind, error_kind::permanent) << url;
    EXPECT_EQ(o.error().message.find("hunter2"), std::string::npos) << o.error().message;
  }
}

TEST(SentinelTest, ReadsTheMasterAddressReply) {
  auto a = parse_master_address(array({str("10.0.0.7"), str("6380")}));
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(*a, (address{"10.0.0.7", 6380}));

  // Unknown master name: nil. Anything else malformed: an error naming it, transient (a
  // sentinel in the middle of a restart should not stop the dispatcher).
  for (const reply& bad : {reply{}, error_reply("ERR unknown command"), array({str("h")}),
                           array({str("h"), str("0")}), array({str("h"), str("80x")}),
                           array({str(""), str("6379")}), array({str("h"), integer(6379)})}) {
    auto r = parse_master_address(bad);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().kind, error_kind::transient);
  }
}

TEST(SentinelTest, ReadsTheRoleReply) {
  auto primary =
      parse_role(array({str("master"), integer(3129659),
                        array({array({str("127.0.0.1"), str("9001"), str("3129242")}),
                               array({str("127.0.0.1"), str("9002"), str("3129543")})})}));
  ASSERT_TRUE(primary.has_value());
  EXPECT_TRUE(primary->primary);
  EXPECT_EQ(primary->replicas, 2u);

  auto lonely = parse_role(array({str("master"), integer(0), array({})}));
  ASSERT_TRUE(lonely.has_value());
  EXPECT_TRUE(lonely->primary);
  EXPECT_EQ(lonely->replicas, 0u);

  auto replica = parse_role(
      array({str("slave"), str("127.0.0.1"), integer(9000), str("connected"), integer(1)}));
  ASSERT_TRUE(replica.has_value());
  EXPECT_FALSE(replica->primary);

  EXPECT_FALSE(parse_role(str("master")).has_value());
  EXPECT_FALSE(parse_role(array({})).has_value());
}

TEST(SentinelTest, ReadonlyMeansDemoted) {
  EXPECT_TRUE(is_demoted(error_reply("READONLY You can't write against a read only replica.")));
  EXPECT_FALSE(is_demoted(error_reply("WRONGTYPE Operation against a key")));
  EXPECT_FALSE(is_demoted(str("READONLY")));
  EXPECT_EQ(error_of(error_reply("READONLY x")).kind, error_kind::transient);
}

TEST(SentinelTest, NoSentinelAnsweringIsTransientAndNamesTheLastOne) {
  options o = *parse_url("redis+sentinel://127.0.0.1:" + std::to_string(test::free_port()) +
                         ",127.0.0.1:" + std::to_string(test::free_port()) + "/mymaster");
  o.connect_timeout = std::chrono::milliseconds(500);
  auto r = resolve_primary(o);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, error_kind::transient);
  EXPECT_NE(r.error().message.find(std::to_string(o.sentinels.back().port)), std::string::npos)
      << r.error().message;
  // A client behind those sentinels fails the same way, and does not block forever.
  client c(o);
  auto ping = c.ping();
  ASSERT_FALSE(ping.has_value());
  EXPECT_EQ(ping.error().kind, error_kind::transient);
}

}  // namespace
}  // namespace tresse::dispatcher::redis
