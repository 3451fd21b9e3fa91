#include "delivery/lane.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace tresse::dispatcher {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// Runs acquires on one io_context and records what each got, in order of admission.
class LaneTest : public ::testing::Test {
 protected:
  asio::awaitable<void> take(lane& l, lane::kind k, std::string name, steady::time_point deadline) {
    auto r = co_await l.acquire(k, deadline);
    results_.push_back(name + (r == lane::admit::granted    ? ":granted"
                               : r == lane::admit::deferred ? ":deferred"
                                                            : ":cancelled"));
    if (r == lane::admit::granted) held_.emplace_back(k);
  }

  void spawn(lane& l, lane::kind k, std::string name, steady::duration wait = 10s) {
    auto deadline = steady::now() + wait;
    asio::co_spawn(io_, take(l, k, std::move(name), deadline), asio::detached);
    pump();
  }

  // Runs what is ready; the context stops whenever it runs out of work, hence the restart.
  void pump() {
    io_.restart();
    io_.poll();
  }

  void release_one(lane& l) {
    auto k = held_.front();
    held_.erase(held_.begin());
    l.release(k);
    pump();
  }

  asio::io_context io_;
  std::vector<std::string> results_;
  std::vector<lane::kind> held_;  // kinds of the slots granted so far, oldest first
};

TEST(LaneDefaultsTest, ReservesAQuarterOfTheSlotsForFirstAttempts) {
  EXPECT_EQ(default_retry_slots(1), 1u);
  EXPECT_EQ(default_retry_slots(2), 1u);
  EXPECT_EQ(default_retry_slots(4), 3u);
  EXPECT_EQ(default_retry_slots(10), 7u);
}

TEST_F(LaneTest, GrantsUpToItsSlotsThenQueues) {
  lane l(io_.get_executor(), {.slots = 2, .retry_slots = 2, .queue_limit = 10});
  spawn(l, lane::kind::first, "a");
  spawn(l, lane::kind::first, "b");
  spawn(l, lane::kind::first, "c");
  EXPECT_EQ(results_, (std::vector<std::string>{"a:granted", "b:granted"}));
  EXPECT_EQ(l.waiting(lane::kind::first), 1u);
  release_one(l);
  EXPECT_EQ(results_.back(), "c:granted");
  EXPECT_EQ(l.busy(), 2u);
}

TEST_F(LaneTest, TryAcquireTakesOnlyAFreeSlotNobodyWaitsFor) {
  lane l(io_.get_executor(), {.slots = 1, .retry_slots = 1, .queue_limit = 10});
  EXPECT_TRUE(l.try_acquire(lane::kind::first));
  EXPECT_FALSE(l.try_acquire(lane::kind::first));  // the one slot is taken
  spawn(l, lane::kind::first, "waiting");
  l.release(lane::kind::first);  // handed to the waiter, not left for try_acquire
  pump();
  EXPECT_EQ(results_, (std::vector<std::string>{"waiting:granted"}));
  EXPECT_FALSE(l.try_acquire(lane::kind::first));
  EXPECT_EQ(l.busy(), 1u);
  l.cancel_all();
  l.release(lane::kind::first);
  EXPECT_FALSE(l.try_acquire(lane::kind::first));  // cancelled: nothing more is taken
}

TEST_F(LaneTest, FirstAttemptsGoBeforeRetries) {
  lane l(io_.get_executor(), {.slots = 1, .retry_slots = 1, .queue_limit = 10});
  spawn(l, lane::kind::retry, "r1");
  spawn(l, lane::kind::retry, "r2");  // queued first...
  spawn(l, lane::kind::first, "f1");  // ...but the first attempt overtakes it
  release_one(l);
  EXPECT_EQ(results_, (std::vector<std::string>{"r1:granted", "f1:granted"}));
  release_one(l);
  EXPECT_EQ(results_.back(), "r2:granted");
}

TEST_F(LaneTest, RetriesNeverTakeTheReservedSlots) {
  lane l(io_.get_executor(), {.slots = 4, .queue_limit = 10});  // 3 for retries
  for (int i = 0; i < 4; ++i) spawn(l, lane::kind::retry, "r" + std::to_string(i));
  EXPECT_EQ(l.busy(), 3u);
  EXPECT_EQ(l.waiting(lane::kind::retry), 1u);
  spawn(l, lane::kind::first, "f");
  EXPECT_EQ(results_.back(), "f:granted");  // at once, although retries wait
}

TEST_F(LaneTest, DefersWhenTheQueueIsFullAndTheEndpointStalls) {
  lane l(io_.get_executor(), {.slots = 1, .queue_limit = 1, .stall_after = 20ms});
  spawn(l, lane::kind::first, "a");  // never finishes
  std::this_thread::sleep_for(30ms);
  spawn(l, lane::kind::first, "b");  // queued
  spawn(l, lane::kind::first, "c");  // over the limit
  EXPECT_EQ(results_, (std::vector<std::string>{"a:granted", "c:deferred"}));
}

TEST_F(LaneTest, ABusyButHealthyEndpointQueuesPastTheLimit) {
  lane l(io_.get_executor(), {.slots = 1, .queue_limit = 1, .stall_after = 10s});
  spawn(l, lane::kind::first, "a");
  release_one(l);  // attempts are finishing
  spawn(l, lane::kind::first, "b");
  spawn(l, lane::kind::first, "c");  // queued
  spawn(l, lane::kind::first, "d");  // past the limit, still queued: Kafka holds the backlog
  EXPECT_EQ(results_, (std::vector<std::string>{"a:granted", "b:granted"}));
  EXPECT_EQ(l.waiting(lane::kind::first), 2u);
  release_one(l);
  release_one(l);
  EXPECT_EQ(results_, (std::vector<std::string>{"a:granted", "b:granted", "c:granted", "d:granted"}));
}

TEST_F(LaneTest, DefersAtTheDeadline) {
  lane l(io_.get_executor(), {.slots = 1, .queue_limit = 10});
  spawn(l, lane::kind::first, "a");
  spawn(l, lane::kind::first, "b", 30ms);
  auto start = steady::now();
  while (results_.size() < 2 && steady::now() - start < 5s) {
    io_.restart();
    io_.run_one_for(100ms);
  }
  ASSERT_EQ(results_.size(), 2u);
  EXPECT_EQ(results_.back(), "b:deferred");
  EXPECT_EQ(l.waiting(lane::kind::first), 0u);
  release_one(l);
  EXPECT_TRUE(l.idle());  // the expired waiter took no slot
}

TEST_F(LaneTest, CancelWakesEveryWaiter) {
  lane l(io_.get_executor(), {.slots = 1, .queue_limit = 10});
  spawn(l, lane::kind::first, "a");
  spawn(l, lane::kind::retry, "r");
  l.cancel_all();
  pump();
  EXPECT_EQ(results_.back(), "r:cancelled");
  spawn(l, lane::kind::first, "late");
  EXPECT_EQ(results_.back(), "late:cancelled");
}

}  // namespace
}  // namespace tresse::dispatcher
