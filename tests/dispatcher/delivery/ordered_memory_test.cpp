#include "delivery/ordered_memory.hpp"

#include <gtest/gtest.h>

#include <string>

namespace tresse::dispatcher {
namespace {

retry::task make(std::string event, std::string resource = "apt_1", std::string endpoint = "we_1") {
  retry::task t;
  t.event_id = std::move(event);
  t.endpoint_id = std::move(endpoint);
  t.resource = std::move(resource);
  t.body = R"({"id":")" + t.event_id + R"("})";
  return t;
}

std::string front_id(const ordered_memory& m, const char* resource = "apt_1") {
  auto e = m.front("we_1", resource);
  return e ? e->task.event_id : "";
}

TEST(OrderedMemoryTest, RemembersAResourceFromItsHeadOnInOrder) {
  ordered_memory m;
  // Waiting behind a head this shard did not see enter: what is before it is unknown.
  m.waiting(make("evt_0"), 4, 100);
  EXPECT_EQ(m.front("we_1", "apt_1"), nullptr);
  EXPECT_EQ(m.resources(), 0u);

  m.headed(make("evt_1"), 5);
  m.waiting(make("evt_2"), 6, 100);
  m.waiting(make("evt_3"), 7, 101);
  ASSERT_NE(m.front("we_1", "apt_1"), nullptr);
  EXPECT_EQ(m.front("we_1", "apt_1")->task.event_id, "evt_2");
  EXPECT_EQ(m.front("we_1", "apt_1")->task.sequence, 6u);
  EXPECT_EQ(m.front("we_1", "apt_1")->task.body, R"({"id":"evt_2"})");
  EXPECT_EQ(m.front("we_1", "apt_1")->queued_at_ms, 100);
  EXPECT_EQ(m.second("we_1", "apt_1")->task.event_id, "evt_3");
  EXPECT_EQ(m.events(), 2u);
  // Another resource, another endpoint: apart.
  EXPECT_EQ(m.front("we_1", "apt_2"), nullptr);
  EXPECT_EQ(m.front("we_2", "apt_1"), nullptr);

  m.released("we_1", "apt_1", 6);
  EXPECT_EQ(front_id(m), "evt_3");
  EXPECT_EQ(m.second("we_1", "apt_1"), nullptr);
  m.released("we_1", "apt_1", 7);
  EXPECT_EQ(front_id(m), "");
  EXPECT_EQ(m.events(), 0u);
  EXPECT_EQ(m.bytes(), 0u);
  // Still remembered (empty behind its head) until its list is seen empty.
  m.waiting(make("evt_4"), 8, 102);
  EXPECT_EQ(front_id(m), "evt_4");
  m.forget("we_1", "apt_1");
  EXPECT_EQ(m.resources(), 0u);
  EXPECT_EQ(m.events(), 0u);
}

TEST(OrderedMemoryTest, KnowsTheOldestWaitScoreFromTheFirstWaitingEventOn) {
  ordered_memory m;
  EXPECT_EQ(m.score_ms("we_1", "apt_1"), 0);  // not remembered: unknown
  m.headed(make("evt_1"), 1);
  EXPECT_EQ(m.score_ms("we_1", "apt_1"), 0);
  // Its list was empty: the enter scored the first waiting event's queueing.
  m.waiting(make("evt_2"), 2, 100);
  m.waiting(make("evt_3"), 3, 250);
  EXPECT_EQ(m.score_ms("we_1", "apt_1"), 100);
  m.released("we_1", "apt_1", 2);
  m.scored("we_1", "apt_1", 250);
  EXPECT_EQ(m.score_ms("we_1", "apt_1"), 250);
  m.scored("we_1", "apt_1", 0);  // a release by the Redis path: unknown again
  EXPECT_EQ(m.score_ms("we_1", "apt_1"), 0);
  m.released("we_1", "apt_1", 3);
  m.waiting(make("evt_4"), 4, 400);  // the list was empty again
  EXPECT_EQ(m.score_ms("we_1", "apt_1"), 400);
  m.forget("we_1", "apt_1");
  EXPECT_EQ(m.score_ms("we_1", "apt_1"), 0);
  m.scored("we_1", "apt_1", 500);  // a resource not remembered keeps nothing
  EXPECT_EQ(m.score_ms("we_1", "apt_1"), 0);
}

TEST(OrderedMemoryTest, WhatRedisReleasedPastTheMemoryIsForgottenWithWhatCameBefore) {
  ordered_memory m;
  m.headed(make("evt_1"), 1);
  for (int i = 2; i <= 5; ++i) m.waiting(make("evt_" + std::to_string(i)), i, 100);
  // Another instance released 2 and 3 meanwhile; ours released 4 by the Redis path.
  m.released("we_1", "apt_1", 4);
  EXPECT_EQ(front_id(m), "evt_5");
  EXPECT_EQ(m.events(), 1u);
  // An enter's reply that comes after the release of its event: not remembered again.
  m.waiting(make("evt_4"), 4, 100);
  EXPECT_EQ(m.events(), 1u);
  // A new head (the list was empty in Redis): what was remembered before it is gone.
  m.headed(make("evt_9"), 9);
  EXPECT_EQ(front_id(m), "");
  EXPECT_EQ(m.events(), 0u);
}

TEST(OrderedMemoryTest, OutOfOrderForgetsTheResource) {
  ordered_memory m;
  m.headed(make("evt_1"), 1);
  m.waiting(make("evt_3"), 3, 100);
  m.waiting(make("evt_2"), 2, 100);  // never expected: Redis numbers in order
  EXPECT_EQ(m.resources(), 0u);
  EXPECT_EQ(m.events(), 0u);
  m.waiting(make("evt_4"), 4, 100);
  EXPECT_EQ(front_id(m), "");
}

TEST(OrderedMemoryTest, PastTheEventBoundItStartsOver) {
  ordered_memory m({.max_events = 3, .max_bytes = 1 << 20, .max_resources = 10});
  m.headed(make("evt_a1", "apt_a"), 1);
  m.headed(make("evt_b1", "apt_b"), 1);
  m.waiting(make("evt_a2", "apt_a"), 2, 100);
  m.waiting(make("evt_a3", "apt_a"), 3, 100);
  m.waiting(make("evt_b2", "apt_b"), 2, 100);
  EXPECT_EQ(m.events(), 3u);
  // The fourth would pass max_events: everything is forgotten (a leftover of a resource that
  // another instance moved on must not hold the memory).
  m.waiting(make("evt_a4", "apt_a"), 4, 100);
  EXPECT_EQ(m.events(), 0u);
  EXPECT_EQ(m.bytes(), 0u);
  EXPECT_EQ(m.resources(), 0u);
  m.waiting(make("evt_a5", "apt_a"), 5, 100);
  m.waiting(make("evt_b3", "apt_b"), 3, 100);
  EXPECT_EQ(m.front("we_1", "apt_a"), nullptr);  // a gap: not until its next head
  EXPECT_EQ(m.front("we_1", "apt_b"), nullptr);
  m.headed(make("evt_a9", "apt_a"), 9);
  m.waiting(make("evt_a10", "apt_a"), 10, 100);
  EXPECT_EQ(front_id(m, "apt_a"), "evt_a10");
}

TEST(OrderedMemoryTest, PastTheResourceBoundItStartsOver) {
  ordered_memory m({.max_events = 100, .max_bytes = 1 << 20, .max_resources = 2});
  m.headed(make("evt_a1", "apt_a"), 1);
  m.headed(make("evt_b1", "apt_b"), 1);
  m.waiting(make("evt_a2", "apt_a"), 2, 100);
  EXPECT_EQ(m.resources(), 2u);
  m.headed(make("evt_c1", "apt_c"), 1);  // a third: the others are forgotten
  EXPECT_EQ(m.resources(), 1u);
  EXPECT_EQ(m.events(), 0u);
  m.waiting(make("evt_c2", "apt_c"), 2, 100);
  EXPECT_EQ(front_id(m, "apt_c"), "evt_c2");
  m.waiting(make("evt_a3", "apt_a"), 3, 100);
  EXPECT_EQ(m.front("we_1", "apt_a"), nullptr);
}

TEST(OrderedMemoryTest, BodiesAreBoundedInBytes) {
  ordered_memory m({.max_events = 100, .max_bytes = 4096, .max_resources = 10});
  m.headed(make("evt_1"), 1);
  auto big = make("evt_2");
  big.body.assign(3000, 'x');
  m.waiting(big, 2, 100);
  EXPECT_EQ(m.events(), 1u);
  EXPECT_GT(m.bytes(), 3000u);
  EXPECT_LE(m.bytes(), 4096u);
  auto bigger = make("evt_3");
  bigger.body.assign(3000, 'y');
  m.waiting(bigger, 3, 100);
  EXPECT_EQ(m.events(), 0u);
  EXPECT_EQ(m.bytes(), 0u);
  EXPECT_EQ(front_id(m), "");
}

}  // namespace
}  // namespace tresse::dispatcher
