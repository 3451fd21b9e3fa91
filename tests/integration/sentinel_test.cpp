// End to end on a replicated Redis: a primary, a replica and three sentinels, real
// redis-server processes on free ports. The primary is SIGKILLed while events flow and retries
// are pending; a sentinel promotes the replica, the dispatcher follows it (redis+sentinel://),
// and every event still reaches the sink, with the retry backlog drained to 0. And WAIT: while
// the only replica hangs, hand-offs are not committed to Kafka until it is back.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness.hpp"
#include "redis/async_client.hpp"
#include "redis/client.hpp"
#include "redis/server_check.hpp"
#include "retry/store.hpp"

namespace tresse::test {
namespace {

namespace redis = tresse::dispatcher::redis;

constexpr std::string_view master_name = "mymaster";

redis::options direct(const redis_server& s) { return *redis::parse_url(s.url()); }

// A replica of `primary`, synced once ROLE on the primary lists it (see replicated()).
redis_server_options replica_of(const redis_server& primary) {
  return {.persistence = true,
          .extra = {"--replicaof", "127.0.0.1", std::to_string(primary.port())}};
}

// The replicas the primary `s` sees online: ROLE lists them only once they synced.
std::size_t replicas_of(const redis_server& s) {
  redis::client c(direct(s));
  auto role = redis::read_role(c);
  return role && role->primary ? role->replicas : 0;
}

class SentinelTest : public integration_test {
 protected:
  SentinelTest() {
    // The first sync waits for repl-diskless-sync-delay (5 s by default): not in a test.
    redis::client primary(direct(redis_));
    EXPECT_TRUE(primary.command({"CONFIG", "SET", "repl-diskless-sync-delay", "0"}));
  }

  void start_replica() {
    replica_ = std::make_unique<redis_server>(replica_of(redis_));
    ASSERT_TRUE(eventually_true([&] { return replicas_of(redis_) == 1; }, 30s))
        << "the replica never synced";
  }

  // Three sentinels watching redis_ (quorum 2), which know each other and the replica.
  void start_sentinels() {
    const std::vector<std::string> conf = {
        "sentinel monitor " + std::string(master_name) + " 127.0.0.1 " +
            std::to_string(redis_.port()) + " 2",
        "sentinel down-after-milliseconds " + std::string(master_name) + " 1000",
        "sentinel failover-timeout " + std::string(master_name) + " 5000",
    };
    for (int i = 0; i < 3; ++i) {
      sentinels_.push_back(
          std::make_unique<redis_server>(redis_server_options{.sentinel_config = conf}));
    }
    // A failover needs a majority of sentinels that found one another (hello messages every
    // 2 s) and a replica they know about.
    auto ready = [&] {
      for (const auto& s : sentinels_) {
        redis::client c(direct(*s));
        auto peers = c.command({"SENTINEL", "sentinels", std::string(master_name)});
        auto replicas = c.command({"SENTINEL", "replicas", std::string(master_name)});
        if (!peers || peers->elements.size() != 2 || !replicas || replicas->elements.size() != 1) {
          return false;
        }
      }
      return true;
    };
    ASSERT_TRUE(eventually_true(ready, 40s)) << "the sentinels never found each other";
  }

  std::string sentinel_url() const {
    std::string hosts;
    for (const auto& s : sentinels_) {
      hosts += (hosts.empty() ? "" : ",") + std::string("127.0.0.1:") + std::to_string(s->port());
    }
    return "redis+sentinel://" + hosts + "/" + std::string(master_name) + "/0";
  }

  // Retries scheduled or claimed, read through the sentinels (so after a failover this also
  // shows the blocking client following it); -1 while Redis does not answer.
  std::int64_t retry_backlog() {
    auto opts = *redis::parse_url(sentinel_url());
    opts.pool_size = 1;
    dispatcher::retry::store retries(std::make_shared<redis::client>(opts));
    auto b = retries.backlog();
    return b ? b->scheduled + b->claimed : -1;
  }

  std::int64_t committed_total() {
    std::int64_t sum = 0;
    for (int p = 0; p < kafka_.partitions(); ++p) {
      sum += std::max<std::int64_t>(0, kafka_.committed("tresse-dispatcher", events_topic(), p));
    }
    return sum;
  }

  std::unique_ptr<redis_server> replica_;
  std::vector<std::unique_ptr<redis_server>> sentinels_;
};

TEST_F(SentinelTest, PrimaryKilledMidStreamLosesNothing) {
  start_replica();
  start_sentinels();
  // Every other request of each event fails: every event has a retry pending at some point.
  recording_sink sink([](const received_request& r) {
    return sink_reply{.status = r.attempt % 2 == 1 ? 500u : 200u, .delay = 20ms};
  });
  std::vector<std::string> businesses;
  for (int b = 0; b < 8; ++b) {
    businesses.push_back("biz_s" + std::to_string(b));
    create_endpoint(businesses.back(), sink.url(), "*");
  }
  auto& d = start_dispatcher({"redis.url=" + sentinel_url(), "delivery.endpoint_concurrency=1",
                              // Half the requests fail on purpose: no circuit to open.
                              "delivery.breaker_failures=0",
                              // Enough tries that an attempt lost in the failover still ends
                              // delivered, not dead-lettered.
                              "delivery.retry_schedule=200ms,200ms,500ms,1s,1s,1s,1s,1s"});
  ASSERT_TRUE(d.wait_for_log("redis hand-offs wait for replicas", [](const nlohmann::json& j) {
    return j.value("wait_replicas", "") == "auto";
  })) << d.log_text();

  std::vector<events::event> evs;
  for (int i = 0; i < 300; ++i) {
    evs.push_back(make_event("client.updated", businesses[i % businesses.size()],
                             R"({"id":"obj_)" + std::to_string(i) + R"("})"));
  }
  publish(evs);
  ASSERT_TRUE(sink.wait_for_ids(30));
  ASSERT_TRUE(eventually_true([&] { return retry_backlog() > 0; })) << "no retry pending";
  redis_.kill();
  EXPECT_LT(sink.delivered_ids().size(), evs.size()) << "the stream ended before the kill";

  std::set<std::string> want;
  for (const auto& e : evs) want.insert(e.id);
  ASSERT_TRUE(sink.wait_for_delivered(want.size(), 90s))
      << sink.delivered_ids().size() << " of " << want.size() << " delivered\n"
      << d.log_text();
  EXPECT_EQ(sink.delivered_ids(), want);
  EXPECT_EQ(sink.ids(), want);
  EXPECT_TRUE(eventually_true([&] { return retry_backlog() == 0; }, 60s))
      << "retry backlog: " << retry_backlog();
  // The replica is the primary now.
  redis::client promoted(direct(*replica_));
  auto role = redis::read_role(promoted);
  ASSERT_TRUE(role.has_value());
  EXPECT_TRUE(role->primary);
  EXPECT_TRUE(d.running());
}

TEST_F(SentinelTest, AsyncClientFollowsTheFailover) {
  start_replica();
  start_sentinels();
  auto opts = *redis::parse_url(sentinel_url());
  opts.connect_timeout = 500ms;
  redis::async_client client(opts);  // its own thread, as the management API uses it
  auto incr = [&]() -> redis::replies {
    boost::asio::io_context io;
    auto f = boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<redis::replies> {
          const std::vector<std::vector<std::string>> cmds = {{"INCR", "counter"}};
          co_return co_await client.pipeline(cmds);
        },
        boost::asio::use_future);
    io.run();
    return f.get();
  };
  auto first = incr();
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(first->front().integer, 1);
  redis::client primary(direct(redis_));
  ASSERT_TRUE(primary.command({"WAIT", "1", "1000"}));
  redis_.kill();
  // Fails (transient) until the sentinels promoted the replica, then works there.
  std::int64_t after = 0;
  ASSERT_TRUE(eventually_true(
      [&] {
        auto r = incr();
        if (!r || r->front().type != redis::reply::kind::integer) return false;
        after = r->front().integer;
        return true;
      },
      40s));
  EXPECT_EQ(after, 2);  // the replica had the first INCR
}

TEST_F(SentinelTest, DemotedPrimaryIsDropped) {
  // A connection to a primary that became a replica gets READONLY: it must not keep writing
  // there, but reconnect and ask the sentinels again.
  start_replica();
  start_sentinels();
  auto opts = *redis::parse_url(sentinel_url());
  redis::client c(opts);
  ASSERT_TRUE(c.command({"SET", "k", "1"}));
  redis::client s(direct(*sentinels_.front()));
  ASSERT_TRUE(s.command({"SENTINEL", "FAILOVER", std::string(master_name)}));
  // The sentinels name the replica, and the old primary follows it.
  ASSERT_TRUE(eventually_true(
      [&] {
        auto a = s.command({"SENTINEL", "get-master-addr-by-name", std::string(master_name)});
        redis::client old(direct(redis_));
        auto role = redis::read_role(old);
        return a && a->elements.size() == 2 &&
               a->elements[1].str == std::to_string(replica_->port()) && role && !role->primary;
      },
      40s));
  // The client's connection is still on the old primary: its next write fails (READONLY, or
  // the connection was closed), transient; the one after reconnects to the new primary.
  auto on_old = c.command({"SET", "k", "2"});
  ASSERT_FALSE(on_old.has_value());
  EXPECT_EQ(on_old.error().kind, tresse::error_kind::transient) << on_old.error().message;
  auto on_new = c.command({"SET", "k", "3"});
  ASSERT_TRUE(on_new.has_value()) << on_new.error().message;
  redis::client promoted(direct(*replica_));
  EXPECT_EQ(promoted.command({"GET", "k"})->str, "3");
}

TEST_F(SentinelTest, HandOffsWaitForAHungReplica) {
  start_replica();
  recording_sink sink;
  create_endpoint("biz_w", sink.url(), "*");
  auto& d = start_dispatcher({"redis.wait_timeout=300ms"});
  ASSERT_TRUE(d.wait_for_log("redis hand-offs wait for replicas", [](const nlohmann::json& j) {
    return j.value("wait_replicas", "") == "auto";
  })) << d.log_text();
  publish({make_event("client.created", "biz_w")});
  ASSERT_TRUE(sink.wait_for_delivered(1));
  ASSERT_TRUE(kafka_wait_until([&] { return committed_total() == 1; })) << d.log_text();

  replica_->pause();
  std::vector<events::event> more;
  for (int i = 0; i < 4; ++i) more.push_back(make_event("client.updated", "biz_w"));
  publish(more);
  ASSERT_TRUE(sink.wait_for_delivered(5));  // delivered, but the hand-off waits for the replica
  ASSERT_TRUE(
      d.wait_for_log("redis replicas did not acknowledge a write in time; waiting (its "
                     "Kafka offset is not committed until they do)"))
      << d.log_text();
  // Commits run every few hundred ms; for a few rounds none may move past the first event.
  EXPECT_FALSE(kafka_wait_until([&] { return committed_total() > 1; }, 3s))
      << "committed before the replica acknowledged";

  replica_->resume();
  EXPECT_TRUE(kafka_wait_until([&] { return committed_total() == 5; })) << d.log_text();
  EXPECT_TRUE(d.wait_for_log("redis replicas acknowledge writes again"));
  EXPECT_EQ(sink.delivered_ids().size(), 5u);
}

}  // namespace
}  // namespace tresse::test
