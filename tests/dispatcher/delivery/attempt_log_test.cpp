#include "delivery/attempt_log.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "delivery/context.hpp"
#include "dispatcher/redis_test.hpp"
#include "redis/client.hpp"

namespace tresse::dispatcher {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class AttemptLogTest : public test_support::redis_test {
 protected:
  long lpush_calls() {
    // INFO commandstats: "cmdstat_lpush:calls=N,..."
    auto info = redis_->command({"INFO", "commandstats"});
    const std::string text = info ? info->str : "";
    const auto at = text.find("cmdstat_lpush:calls=");
    return at == std::string::npos ? 0 : std::stol(text.substr(at + 20));
  }
};

TEST_F(AttemptLogTest, AttemptsLoggedTogetherShareTheEndpointListsCommands) {
  ASSERT_TRUE(redis_->command({"CONFIG", "RESETSTAT"}).has_value());
  asio::io_context io;
  std::atomic<bool> stopping{false};
  redis_writer writer(io, redis_->config(), stopping);
  retry::store retries(redis_);
  attempt_log log(io.get_executor(), writer, retries);

  constexpr int n = 20;
  std::vector<retry::attempt_record> records(n);
  int logged = 0;
  for (int i = 0; i < n; ++i) {
    auto& r = records[static_cast<std::size_t>(i)];
    r.id = "att_" + std::to_string(i);
    r.event_id = "evt_" + std::to_string(i);
    r.endpoint_id = "we_1";
    r.at = std::chrono::system_clock::now();
    r.succeeded = true;
    auto one = [&log, &r, &logged, &io]() -> asio::awaitable<void> {
      if (co_await log.write(r, "{}") && ++logged == n) io.stop();
    };
    asio::co_spawn(io, one, asio::detached);
  }
  io.run_for(10s);

  EXPECT_EQ(logged, n);  // each one returned only once written
  auto all = retries.list_attempts("we_1", 100);
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), static_cast<std::size_t>(n));
  EXPECT_EQ(all->front().id, "att_19");  // newest first, as one by one
  EXPECT_EQ(all->back().id, "att_0");
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(retries.attempts_for_event("", "evt_" + std::to_string(i))->size(), 1u);
    EXPECT_TRUE(retries.event_body("evt_" + std::to_string(i))->has_value());
  }
  // One by one: 2 LPUSHes each (endpoint list, event list) = 40. Logged together, the
  // endpoint's list takes them in one per write: all 20 within the gathering window, or (on a
  // machine stalled past the window) in two.
  const long calls = lpush_calls();
  EXPECT_GE(calls, n + 1);
  EXPECT_LE(calls, n + 2);
}

retry::attempt_record record_for(std::string endpoint_id, int i) {
  retry::attempt_record r;
  r.id = "att_" + std::to_string(i);
  r.event_id = "evt_" + std::to_string(i);
  r.endpoint_id = std::move(endpoint_id);
  r.at = std::chrono::system_clock::now();
  r.succeeded = true;
  return r;
}

TEST_F(AttemptLogTest, AttemptsLoggedWithinTheGatheringWindowLeaveInOneWrite) {
  ASSERT_TRUE(redis_->command({"CONFIG", "RESETSTAT"}).has_value());
  asio::io_context io;
  std::atomic<bool> stopping{false};
  redis_writer writer(io, redis_->config(), stopping);
  retry::store retries(redis_);
  attempt_log log(io.get_executor(), writer, retries, {.gather = 1s, .max_batch = 256});

  // Five attempts 10 ms apart: all within the first one's window.
  constexpr int n = 5;
  std::vector<retry::attempt_record> records;
  for (int i = 0; i < n; ++i) records.push_back(record_for("we_w", i));
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::chrono::steady_clock::duration> took;
  auto spaced = [&]() -> asio::awaitable<void> {
    for (auto& r : records) {
      auto one = [&log, &r, &took, &start, &io]() -> asio::awaitable<void> {
        if (co_await log.write(r, "")) took.push_back(std::chrono::steady_clock::now() - start);
        if (took.size() == n) io.stop();
      };
      asio::co_spawn(io, one, asio::detached);
      co_await sleep_for(10ms);
    }
  };
  asio::co_spawn(io, spaced, asio::detached);
  io.run_for(5s);

  ASSERT_EQ(took.size(), static_cast<std::size_t>(n));
  for (auto t : took) EXPECT_GE(t, 1s);  // the first one's window held them all
  EXPECT_EQ(lpush_calls(), 1 + n);       // the endpoint's list once, each event's list once
  EXPECT_EQ(retries.list_attempts("we_w", 10)->size(), static_cast<std::size_t>(n));
}

TEST_F(AttemptLogTest, AFullBatchLeavesWithoutWaitingForTheWindow) {
  asio::io_context io;
  std::atomic<bool> stopping{false};
  redis_writer writer(io, redis_->config(), stopping);
  retry::store retries(redis_);
  attempt_log log(io.get_executor(), writer, retries, {.gather = 60s, .max_batch = 4});

  std::vector<retry::attempt_record> records;
  for (int i = 0; i < 4; ++i) records.push_back(record_for("we_f", i));
  int logged = 0;
  auto spaced = [&]() -> asio::awaitable<void> {
    for (auto& r : records) {
      auto one = [&log, &r, &logged, &io]() -> asio::awaitable<void> {
        if (co_await log.write(r, "") && ++logged == 4) io.stop();
      };
      asio::co_spawn(io, one, asio::detached);
      co_await sleep_for(5ms);  // the flush is already waiting when the batch fills
    }
  };
  asio::co_spawn(io, spaced, asio::detached);
  io.run_for(3s);
  EXPECT_EQ(logged, 4);
  EXPECT_EQ(retries.list_attempts("we_f", 10)->size(), 4u);
}

TEST_F(AttemptLogTest, AWriteWaitsThroughARedisOutageAndReturnsFalseOnlyWhenStopping) {
  asio::io_context io;
  std::atomic<bool> stopping{false};
  redis::options unreachable = redis_->config();
  unreachable.port = 1;  // nothing listens
  redis_writer writer(io, unreachable, stopping);
  retry::store retries(redis_);
  attempt_log log(io.get_executor(), writer, retries);
  retry::attempt_record r;
  r.event_id = "evt_1";
  r.endpoint_id = "we_1";
  std::optional<bool> result;
  auto one = [&log, &r, &result]() -> asio::awaitable<void> { result = co_await log.write(r, ""); };
  asio::co_spawn(io, one, asio::detached);
  io.run_for(300ms);
  EXPECT_FALSE(result.has_value());  // still retrying
  stopping = true;
  io.run_for(6s);
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(*result);
}

}  // namespace
}  // namespace tresse::dispatcher
