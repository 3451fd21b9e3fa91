#include "delivery/async_semaphore.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

namespace tresse::dispatcher {
namespace {

namespace asio = boost::asio;

class AsyncSemaphoreTest : public ::testing::Test {
 protected:
  asio::awaitable<void> take(async_semaphore& s, std::string name) {
    const bool got = co_await s.acquire();
    got_.push_back(name + (got ? ":granted" : ":cancelled"));
  }
  void spawn(async_semaphore& s, std::string name) {
    asio::co_spawn(io_, take(s, std::move(name)), asio::detached);
    pump();
  }
  void pump() {
    io_.restart();
    io_.poll();
  }

  asio::io_context io_;
  std::vector<std::string> got_;
};

TEST_F(AsyncSemaphoreTest, TryAcquireTakesOnlyAPermitNobodyWaitsFor) {
  async_semaphore s(io_.get_executor(), 1);
  EXPECT_TRUE(s.try_acquire());
  EXPECT_FALSE(s.try_acquire());
  spawn(s, "a");
  spawn(s, "b");
  EXPECT_EQ(s.waiting(), 2u);
  s.release();  // goes to "a", the first waiter
  pump();
  EXPECT_EQ(got_, (std::vector<std::string>{"a:granted"}));
  EXPECT_FALSE(s.try_acquire());  // "b" still waits: no overtaking
  s.release();
  pump();
  EXPECT_EQ(got_, (std::vector<std::string>{"a:granted", "b:granted"}));
  s.release();
  EXPECT_TRUE(s.try_acquire());
}

TEST_F(AsyncSemaphoreTest, CancelWakesEveryWaiterAndRefusesLaterAcquires) {
  async_semaphore s(io_.get_executor(), 0);
  spawn(s, "a");
  s.cancel_all();
  pump();
  EXPECT_EQ(got_, (std::vector<std::string>{"a:cancelled"}));
  s.release();
  EXPECT_FALSE(s.try_acquire());
  spawn(s, "b");
  EXPECT_EQ(got_.back(), "b:cancelled");
}

}  // namespace
}  // namespace tresse::dispatcher
