#include "kafka/offset_tracker.hpp"

#include <gtest/gtest.h>

namespace tresse::dispatcher::kafka {
namespace {

using commits = std::vector<std::pair<std::int32_t, std::int64_t>>;

TEST(OffsetTrackerTest, NothingToCommitBeforeAnyMessage) {
  offset_tracker t;
  EXPECT_FALSE(t.position(0));
  EXPECT_TRUE(t.pending_commits().empty());
  EXPECT_EQ(t.in_flight(), 0u);
}

TEST(OffsetTrackerTest, PositionIsTheFirstUnfinishedOffset) {
  offset_tracker t;
  for (int o = 10; o < 15; ++o) t.add(0, o);
  EXPECT_EQ(t.position(0), 10);
  EXPECT_TRUE(t.done(0, 11));
  EXPECT_TRUE(t.done(0, 13));
  EXPECT_EQ(t.position(0), 10);  // 10 still in flight
  EXPECT_TRUE(t.done(0, 10));
  EXPECT_EQ(t.position(0), 12);  // 10, 11 done; 12 not
  EXPECT_TRUE(t.done(0, 12));
  EXPECT_EQ(t.position(0), 14);
  EXPECT_TRUE(t.done(0, 14));
  EXPECT_EQ(t.position(0), 15);  // everything done: one past the last
  EXPECT_EQ(t.in_flight(), 0u);
}

TEST(OffsetTrackerTest, HandlesGapsInOffsets) {
  offset_tracker t;
  t.add(0, 3);
  t.add(0, 7);  // 4..6 never arrive (compaction, transaction markers)
  t.done(0, 3);
  EXPECT_EQ(t.position(0), 7);
  t.done(0, 7);
  EXPECT_EQ(t.position(0), 8);
}

TEST(OffsetTrackerTest, PartitionsAreIndependent) {
  offset_tracker t;
  t.add(0, 0);
  t.add(1, 0);
  t.add(1, 1);
  t.done(1, 0);
  t.done(1, 1);
  EXPECT_EQ(t.position(0), 0);
  EXPECT_EQ(t.position(1), 2);
  EXPECT_EQ(t.in_flight(), 1u);
  EXPECT_EQ(t.in_flight(0), 1u);
  EXPECT_EQ(t.in_flight(1), 0u);
}

TEST(OffsetTrackerTest, PendingCommitsOnlyWhenThePositionMoved) {
  offset_tracker t;
  t.add(0, 0);
  t.add(0, 1);
  t.add(2, 5);
  t.done(0, 0);
  t.done(2, 5);
  EXPECT_EQ(t.pending_commits(), (commits{{0, 1}, {2, 6}}));
  t.mark_committed(0, 1);
  t.mark_committed(2, 6);
  EXPECT_TRUE(t.pending_commits().empty());
  EXPECT_EQ(t.committed(0), 1);
  t.done(0, 1);
  EXPECT_EQ(t.pending_commits(), (commits{{0, 2}}));
}

TEST(OffsetTrackerTest, IgnoresUnknownAndRepeatedDone) {
  offset_tracker t;
  EXPECT_FALSE(t.done(0, 0));
  t.add(0, 0);
  t.add(0, 1);
  EXPECT_TRUE(t.done(0, 1));
  EXPECT_FALSE(t.done(0, 1));
  EXPECT_FALSE(t.done(0, 9));
  EXPECT_EQ(t.in_flight(), 1u);
}

TEST(OffsetTrackerTest, DropForgetsARevokedPartition) {
  offset_tracker t;
  t.add(0, 0);
  t.add(0, 1);
  t.add(1, 0);
  t.drop(0);
  EXPECT_EQ(t.in_flight(), 1u);
  EXPECT_FALSE(t.position(0));
  EXPECT_FALSE(t.done(0, 0));  // late completion of a revoked message: ignored
  EXPECT_EQ(t.position(1), 0);
}

TEST(OffsetTrackerTest, RedeliveredOffsetIsTrackedAgain) {
  offset_tracker t;
  t.add(0, 0);
  t.add(0, 1);
  t.done(0, 1);
  t.add(0, 1);  // redelivered while 0 still holds the position
  EXPECT_EQ(t.in_flight(), 2u);
  t.done(0, 0);
  EXPECT_EQ(t.position(0), 1);
  t.done(0, 1);
  EXPECT_EQ(t.position(0), 2);
}

}  // namespace
}  // namespace tresse::dispatcher::kafka
