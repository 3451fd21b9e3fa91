// What the events topic still holds, against librdkafka's mock cluster over TCP: it trims a
// partition's log past 5 MiB, as retention does on a broker, and reports the new log start.
#include "kafka/retention.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "support/kafka_cluster.hpp"

namespace tresse::dispatcher::kafka {
namespace {

using namespace std::chrono_literals;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class RetentionTest : public ::testing::Test {
 protected:
  window_scan scan() const {
    return {.brokers = kafka_.bootstrap(), .topic = "tresse.events", .timeout = 10s};
  }
  // 7 MB on the partition of `key`: the mock drops the oldest of it. Returns when the first
  // record was acknowledged, in unix ms: every record still held is younger.
  std::int64_t overflow_partition(const std::string& key) {
    const std::string big(100 * 1000, 'x');
    kafka_.produce("tresse.events", key, big);
    const std::int64_t first_acked = now_ms();
    for (int i = 0; i < 70; ++i) kafka_.produce("tresse.events", key, big);
    return first_acked;
  }

  test::kafka_cluster kafka_;
};

TEST_F(RetentionTest, GivesNoBoundWhileNoMessageWasDeleted) {
  for (int i = 0; i < 5; ++i) kafka_.produce("tresse.events", "biz_" + std::to_string(i), "{}");
  auto r = earliest_retained(scan());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->earliest_ms);
  EXPECT_TRUE(r->emptied.empty());
}

TEST_F(RetentionTest, BoundsByTheFirstMessageATrimmedPartitionStillHolds) {
  kafka_.produce("tresse.events", "biz_other", "{}");  // another partition, untouched
  const auto first_acked = overflow_partition("biz_big");
  const auto done = now_ms();
  auto r = earliest_retained(scan());
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->earliest_ms) << "the mock kept all 7 MB";
  EXPECT_GE(*r->earliest_ms, first_acked);  // not the deleted first record's time
  EXPECT_LE(*r->earliest_ms, done);
  EXPECT_TRUE(r->emptied.empty());
}

TEST_F(RetentionTest, CacheRemembersUntilItsMaxAge) {
  retention_cache remembered(scan(), 1h);
  retention_cache fresh(scan(), 0ms);
  auto before = remembered.get();
  ASSERT_TRUE(before) << before.error().message;
  EXPECT_FALSE(before->earliest_ms);
  overflow_partition("biz_big");
  auto cached = remembered.get();
  ASSERT_TRUE(cached);
  EXPECT_FALSE(cached->earliest_ms);  // an hour is not over
  auto now = fresh.get();
  ASSERT_TRUE(now) << now.error().message;
  EXPECT_TRUE(now->earliest_ms);
}

TEST_F(RetentionTest, FailsWhenKafkaDoesNotAnswer) {
  auto r = earliest_retained({.brokers = "127.0.0.1:1", .topic = "tresse.events", .timeout = 1s});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, error_kind::transient) << r.error().message;
}

}  // namespace
}  // namespace tresse::dispatcher::kafka
