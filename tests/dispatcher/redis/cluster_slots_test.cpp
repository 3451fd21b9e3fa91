#include "redis/cluster_slots.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tresse::dispatcher::redis {
namespace {

reply str(std::string s) { return reply{reply::kind::string, std::move(s), 0, {}}; }
reply num(std::int64_t n) { return reply{reply::kind::integer, "", n, {}}; }
reply arr(std::vector<reply> e) { return reply{reply::kind::array, "", 0, std::move(e)}; }
reply err(std::string s) { return reply{reply::kind::error, std::move(s), 0, {}}; }

// Expected values: `CLUSTER KEYSLOT` of a redis-server 7 started with --cluster-enabled yes.
TEST(ClusterSlotsTest, SlotsMatchTheSpecificationsVectors) {
  EXPECT_EQ(crc16("123456789"), 0x31C3);
  EXPECT_EQ(key_slot("123456789"), 12739);
  EXPECT_EQ(key_slot("foo"), 12182);
  EXPECT_EQ(key_slot("somekey"), 11058);
  EXPECT_EQ(key_slot(""), 0);
  // Every byte value, and a NUL inside the data (values from a bitwise CRC16-XMODEM).
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  EXPECT_EQ(crc16(all), 0x7E55);
  EXPECT_EQ(crc16(std::string_view("a\0b", 3)), 0xE0BF);
}

TEST(ClusterSlotsTest, HashTagRules) {
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("{user1000}.followers"));
  EXPECT_EQ(key_slot("{user1000}.following"), 3443);
  EXPECT_EQ(hash_tag("foo{}{bar}"), "foo{}{bar}");  // empty first tag: the whole key
  EXPECT_EQ(key_slot("foo{}{bar}"), 8363);
  EXPECT_EQ(hash_tag("foo{{bar}}zap"), "{bar");  // from the first '{' to the first '}'
  EXPECT_EQ(key_slot("foo{{bar}}zap"), 4015);
  EXPECT_EQ(hash_tag("foo{bar}{zap}"), "bar");  // only the first tag counts
  EXPECT_EQ(hash_tag("foo{bar"), "foo{bar");    // unclosed: the whole key
  EXPECT_EQ(hash_tag("foo}bar{"), "foo}bar{");
  EXPECT_EQ(key_slot("tresse:{rs3}:due"), key_slot("rs3"));
}

TEST(ClusterSlotsTest, ParsesClusterSlots) {
  const reply r = arr({
      arr({num(5461), num(10922), arr({str("10.0.0.2"), num(7001), str("id2")}),
           arr({str("10.0.0.5"), num(7004), str("id5")})}),
      arr({num(0), num(5460), arr({str("10.0.0.1"), num(7000), str("id1")})}),
      arr({num(10923), num(16383), arr({str(""), num(7002), str("id3")})}),
  });
  auto m = slot_map::from_cluster_slots(r);
  ASSERT_TRUE(m) << m.error().message;
  ASSERT_EQ(m->ranges().size(), 3u);
  EXPECT_EQ(m->ranges()[0].first, 0);  // sorted
  EXPECT_EQ(m->ranges()[1].replicas, (std::vector<cluster_node>{{"10.0.0.5", 7004}}));
  EXPECT_EQ(*m->primary_for(0), (cluster_node{"10.0.0.1", 7000}));
  EXPECT_EQ(*m->primary_for(5460), (cluster_node{"10.0.0.1", 7000}));
  EXPECT_EQ(*m->primary_for(5461), (cluster_node{"10.0.0.2", 7001}));
  EXPECT_EQ(*m->primary_for(16383), (cluster_node{"", 7002}));  // "": the node asked
}

TEST(ClusterSlotsTest, UncoveredSlotsHaveNoPrimary) {
  const reply r = arr({arr({num(100), num(200), arr({str("h"), num(1)})})});
  auto m = slot_map::from_cluster_slots(r);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->primary_for(99), nullptr);
  EXPECT_NE(m->primary_for(100), nullptr);
  EXPECT_NE(m->primary_for(200), nullptr);
  EXPECT_EQ(m->primary_for(201), nullptr);
  EXPECT_EQ(slot_map::from_cluster_slots(arr({}))->primary_for(0), nullptr);
}

TEST(ClusterSlotsTest, RejectsMalformedClusterSlots) {
  EXPECT_FALSE(slot_map::from_cluster_slots(str("x")));
  EXPECT_FALSE(slot_map::from_cluster_slots(arr({arr({num(0), num(5)})})));
  EXPECT_FALSE(slot_map::from_cluster_slots(arr({arr({num(0), num(16384), arr({str("h"), num(1)})})})));
  EXPECT_FALSE(slot_map::from_cluster_slots(arr({arr({num(9), num(5), arr({str("h"), num(1)})})})));
  EXPECT_FALSE(slot_map::from_cluster_slots(arr({arr({num(0), num(5), arr({str("h")})})})));
  EXPECT_FALSE(slot_map::from_cluster_slots(arr({arr({num(0), num(5), arr({str("h"), num(1)})}),
                                                 arr({num(5), num(9), arr({str("g"), num(2)})})})));
}

reply shard_node(std::string ip, std::int64_t port, std::string role, std::string health) {
  return arr({str("id"), str("abc"), str("port"), num(port), str("ip"), str(ip), str("endpoint"),
              str(ip), str("role"), str(std::move(role)), str("replication-offset"), num(72156),
              str("health"), str(std::move(health))});
}

TEST(ClusterSlotsTest, ParsesClusterShards) {
  const reply r = arr({
      arr({str("slots"), arr({num(0), num(100), num(200), num(5460)}), str("nodes"),
           arr({shard_node("10.0.0.4", 7003, "replica", "online"),
                shard_node("10.0.0.1", 7000, "master", "online")})}),
      arr({str("slots"), arr({num(5461), num(16383)}), str("nodes"),
           arr({shard_node("10.0.0.2", 7001, "master", "online"),
                shard_node("10.0.0.5", 7004, "replica", "loading")})}),
  });
  auto m = slot_map::from_cluster_shards(r);
  ASSERT_TRUE(m) << m.error().message;
  ASSERT_EQ(m->ranges().size(), 3u);
  EXPECT_EQ(*m->primary_for(50), (cluster_node{"10.0.0.1", 7000}));
  EXPECT_EQ(m->primary_for(150), nullptr);
  EXPECT_EQ(*m->primary_for(300), (cluster_node{"10.0.0.1", 7000}));
  EXPECT_EQ(m->ranges()[0].replicas, (std::vector<cluster_node>{{"10.0.0.4", 7003}}));
  EXPECT_EQ(*m->primary_for(16000), (cluster_node{"10.0.0.2", 7001}));
  EXPECT_TRUE(m->ranges()[2].replicas.empty());  // the loading replica is left out
}

TEST(ClusterSlotsTest, ShardWithoutAnOnlinePrimaryOwnsNothing) {
  const reply r = arr({arr({str("slots"), arr({num(0), num(16383)}), str("nodes"),
                            arr({shard_node("10.0.0.1", 7000, "master", "failed")})})});
  auto m = slot_map::from_cluster_shards(r);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->primary_for(0), nullptr);
}

TEST(ClusterSlotsTest, RejectsMalformedClusterShards) {
  EXPECT_FALSE(slot_map::from_cluster_shards(num(1)));
  EXPECT_FALSE(slot_map::from_cluster_shards(arr({arr({str("slots"), arr({num(0)}), str("nodes"),
                                                       arr({})})})));
  EXPECT_FALSE(slot_map::from_cluster_shards(arr({arr({str("nodes"), arr({})})})));
  EXPECT_FALSE(slot_map::from_cluster_shards(
      arr({arr({str("slots"), arr({num(0), num(1)}), str("nodes"), arr({arr({str("ip"), str("h")})})})})));
}

TEST(ClusterSlotsTest, ParsesMovedAndAsk) {
  auto moved = parse_redirect(err("MOVED 3999 127.0.0.1:6381"));
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->type, redirect::kind::moved);
  EXPECT_EQ(moved->slot, 3999);
  EXPECT_EQ(moved->target, (cluster_node{"127.0.0.1", 6381}));

  auto ask = parse_redirect(err("ASK 12182 ::1:7002"));
  ASSERT_TRUE(ask);
  EXPECT_EQ(ask->type, redirect::kind::ask);
  EXPECT_EQ(ask->slot, 12182);
  EXPECT_EQ(ask->target, (cluster_node{"::1", 7002}));

  auto same_host = parse_redirect(err("MOVED 1 :7000"));  // Redis 7: host unknown
  ASSERT_TRUE(same_host);
  EXPECT_EQ(same_host->target, (cluster_node{"", 7000}));
}

TEST(ClusterSlotsTest, OtherRepliesAreNotRedirects) {
  EXPECT_FALSE(parse_redirect(str("MOVED 3999 127.0.0.1:6381")));  // not an error reply
  EXPECT_FALSE(parse_redirect(err("ERR unknown command")));
  EXPECT_FALSE(parse_redirect(err("CROSSSLOT Keys in request don't hash to the same slot")));
  EXPECT_FALSE(parse_redirect(err("MOVED 16384 h:1")));
  EXPECT_FALSE(parse_redirect(err("MOVED x h:1")));
  EXPECT_FALSE(parse_redirect(err("MOVED 1 h")));
  EXPECT_FALSE(parse_redirect(err("MOVED 1 h:0")));
  EXPECT_FALSE(parse_redirect(err("MOVED 1")));
  EXPECT_FALSE(parse_redirect(err("ASK")));
}

}  // namespace
}  // namespace tresse::dispatcher::redis
