#include "redis/async_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <exception>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "dispatcher/redis_test.hpp"

namespace tresse::dispatcher::redis {
namespace {

namespace asio = boost::asio;

class AsyncClientTest : public test_support::redis_test {
 protected:
  // Runs `work` to completion on a fresh io_context with `threads` threads.
  static void run(const std::function<asio::awaitable<void>()>& work, int coroutines = 1,
                  int threads = 1) {
    asio::io_context io;
    std::exception_ptr failure;
    for (int i = 0; i < coroutines; ++i) {
      asio::co_spawn(io, work(), [&](std::exception_ptr e) {
        if (e) failure = e;
      });
    }
    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i) pool.emplace_back([&] { io.run(); });
    io.run();
    for (auto& t : pool) t.join();
    if (failure) std::rethrow_exception(failure);
  }
};

TEST_F(AsyncClientTest, PipelinedRepliesReachTheirOwnCallers) {
  async_client client(redis_->config());
  std::atomic<int> next{0}, ok{0};
  run(
      [&]() -> asio::awaitable<void> {
        int n = next++;
        const std::vector<std::string> set{"SET", "k" + std::to_string(n), "v" + std::to_string(n)};
        const std::vector<std::string> get{"GET", "k" + std::to_string(n)};
        const std::vector<std::string> incr{"INCR", "counter"};
        auto a = co_await client.command(set);
        auto b = co_await client.command(get);
        auto c = co_await client.command(incr);
        if (a && b && c && b->str == "v" + std::to_string(n)) ++ok;
      },
      300, 2);
  EXPECT_EQ(ok, 300);
  EXPECT_EQ(redis_->command({"GET", "counter"})->str, "300");
}

TEST_F(AsyncClientTest, APipelineAnswersEveryCommandInOrderAndKeepsErrorReplies) {
  async_client client(redis_->config());
  run([&]() -> asio::awaitable<void> {
    const std::vector<std::vector<std::string>> batch{
        {"SET", "p", "1"}, {"INCR", "p"}, {"INCR"}, {"GET", "p"}};
    auto r = co_await client.pipeline(batch);
    EXPECT_TRUE(r);
    if (!r) co_return;
    EXPECT_EQ(r->size(), 4U);
    EXPECT_EQ((*r)[1].integer, 2);
    EXPECT_EQ((*r)[2].type, reply::kind::error);  // wrong number of arguments, kept in place
    EXPECT_EQ((*r)[3].str, "2");
  });
}

// Bound to a shard's io_context: no thread of its own, calls from that thread only, and many
// concurrent callers share each write.
TEST_F(AsyncClientTest, BoundToOneIoContextServesManyConcurrentCallers) {
  asio::io_context io;
  std::optional<async_client> client;
  client.emplace(redis_->config(), io);
  int ok = 0, answered = 0;
  for (int i = 0; i < 500; ++i) {
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<void> {
          const std::vector<std::vector<std::string>> batch{
              {"RPUSH", "bound", std::to_string(i)}, {"INCR", "bound:n"}};
          auto r = co_await client->pipeline(batch);
          if (r && r->size() == 2 && (*r)[1].type == reply::kind::integer) ++ok;
          // The connection's timer keeps the io_context running until the client goes.
          if (++answered == 500) client.reset();
        },
        asio::detached);
  }
  io.run();
  EXPECT_EQ(ok, 500);
  EXPECT_EQ(redis_->command({"GET", "bound:n"})->str, "500");
  auto list = redis_->command({"LRANGE", "bound", "0", "-1"});
  ASSERT_TRUE(list);
  ASSERT_EQ(list->elements.size(), 500U);
  // One connection answers in order: the pushes landed in the order they were issued.
  for (int i = 0; i < 500; ++i) EXPECT_EQ(list->elements[i].str, std::to_string(i));
}

TEST_F(AsyncClientTest, ABoundClientFailsItsCallersWhenRedisIsDown) {
  asio::io_context io;
  async_client client(options{.port = 1, .connect_timeout = std::chrono::milliseconds(500)}, io);
  std::optional<result<std::vector<reply>>> out;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        const std::vector<std::vector<std::string>> batch{{"PING"}, {"PING"}};
        out = co_await client.pipeline(batch);
      },
      asio::detached);
  io.run();
  ASSERT_TRUE(out.has_value());
  ASSERT_FALSE(*out);
  EXPECT_EQ(out->error().kind, error_kind::transient);
}

TEST_F(AsyncClientTest, ErrorRepliesArePermanentAndScriptsSurviveAFlush) {
  async_client client(redis_->config());
  const script s("return tonumber(ARGV[1]) + 1");
  run([&]() -> asio::awaitable<void> {
    const std::vector<std::string> bad{"INCR"};
    auto r = co_await client.command(bad);
    EXPECT_FALSE(r);
    if (!r) {
      EXPECT_EQ(r.error().kind, error_kind::permanent);
    }
    const std::vector<std::string> no_keys, args{"41"};
    auto first = co_await client.eval(s, no_keys, args);  // NOSCRIPT -> EVAL
    EXPECT_TRUE(first && first->integer == 42);
    const std::vector<std::string> flush{"SCRIPT", "FLUSH"};
    co_await client.command(flush);
    auto again = co_await client.eval(s, no_keys, args);
    EXPECT_TRUE(again && again->integer == 42);
  });
}

TEST_F(AsyncClientTest, ReconnectsAfterRedisRestarts) {
  async_client client(redis_->config());
  const std::vector<std::string> ping{"PING"};
  auto once = [&] {
    std::optional<result<reply>> out;
    run([&]() -> asio::awaitable<void> { out = co_await client.command(ping); });
    return std::move(*out);
  };
  ASSERT_TRUE(once());
  server_->stop();
  auto down = once();
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().kind, error_kind::transient);
  server_->start();
  auto up = once();
  ASSERT_TRUE(up) << up.error().message;
  EXPECT_EQ(up->str, "PONG");
}

TEST_F(AsyncClientTest, AnUnansweredCommandTimesOut) {
  // A listening socket nobody reads from: the connect succeeds, no reply ever comes.
  asio::io_context io;
  asio::ip::tcp::acceptor silent(io, {asio::ip::make_address("127.0.0.1"), 0});
  async_client client(options{.host = "127.0.0.1",
                              .port = silent.local_endpoint().port(),
                              .command_timeout = std::chrono::milliseconds(300)});
  std::optional<result<reply>> out;
  const std::vector<std::string> ping{"PING"};
  auto start = std::chrono::steady_clock::now();
  run([&]() -> asio::awaitable<void> { out = co_await client.command(ping); });
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(out);
  ASSERT_FALSE(*out);
  EXPECT_EQ(out->error().kind, error_kind::transient);
  EXPECT_NE(out->error().message.find("timed out"), std::string::npos) << out->error().message;
  EXPECT_GE(took, std::chrono::milliseconds(250));
  EXPECT_LT(took, std::chrono::seconds(5));
}

// Like redis::client: AUTH user password for an ACL user, over IPv6, password percent-decoded.
TEST_F(AsyncClientTest, AuthenticatesAsAclUserOverIpv6) {
  test::redis_server acl_server(
      {.extra = {"--bind", "127.0.0.1", "::1", "--user", "tresse", "on", ">p@ss:w/rd", "~*", "&*",
                 "+@all", "--user", "default", "off"}});
  auto opts =
      parse_url("redis://tresse:p%40ss%3Aw%2Frd@[::1]:" + std::to_string(acl_server.port()) + "/0");
  ASSERT_TRUE(opts.has_value());
  async_client client(*opts);
  std::optional<result<reply>> who;
  const std::vector<std::string> whoami{"ACL", "WHOAMI"};
  run([&]() -> asio::awaitable<void> { who = co_await client.command(whoami); });
  ASSERT_TRUE(who);
  ASSERT_TRUE(*who) << (*who).error().message;
  EXPECT_EQ((*who)->str, "tresse");
}

TEST_F(AsyncClientTest, UnreachableIsTransient) {
  async_client client(options{.port = 1});
  std::optional<result<reply>> out;
  const std::vector<std::string> ping{"PING"};
  run([&]() -> asio::awaitable<void> { out = co_await client.command(ping); });
  ASSERT_TRUE(out);
  ASSERT_FALSE(*out);
  EXPECT_EQ(out->error().kind, error_kind::transient);
}

}  // namespace
}  // namespace tresse::dispatcher::redis
