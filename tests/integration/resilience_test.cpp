// End to end: at least once across crashes. Dispatchers killed with SIGKILL mid-stream, a
// consumer-group member dying, Redis restarting, and a graceful SIGTERM lose nothing; the
// graceful stop also commits what it finished, so a successor does not redeliver it.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "harness.hpp"

namespace tresse::test {
namespace {

using json = nlohmann::json;

class ResilienceTest : public integration_test {
 protected:
  // `businesses` businesses (spread over the partitions by their keys), each with one
  // endpoint subscribed to everything at `url`.
  void create_businesses(int businesses, const std::string& url) {
    for (int b = 0; b < businesses; ++b) {
      business_ids_.push_back("biz_r" + std::to_string(b));
      endpoints_.push_back(create_endpoint(business_ids_.back(), url, "*"));
    }
  }

  std::vector<events::event> make_events(int n) {
    std::vector<events::event> out;
    for (int i = 0; i < n; ++i) {
      out.push_back(make_event(i % 2 ? "appointment.created" : "client.updated",
                               business_ids_[i % business_ids_.size()],
                               R"({"id":"obj_)" + std::to_string(i) + R"("})"));
    }
    return out;
  }

  static std::set<std::string> ids_of(const std::vector<events::event>& evs) {
    std::set<std::string> out;
    for (const auto& e : evs) out.insert(e.id);
    return out;
  }

  // Every published event answered 2xx at least once, and nothing else arrived.
  static void expect_all_delivered(const recording_sink& sink,
                                   const std::vector<events::event>& evs) {
    auto want = ids_of(evs);
    ASSERT_TRUE(sink.wait_for_delivered(want.size(), 40s))
        << sink.delivered_ids().size() << " of " << want.size() << " delivered";
    EXPECT_EQ(sink.delivered_ids(), want);
    EXPECT_EQ(sink.ids(), want);
  }

  // Slow enough that a stream of a few hundred events takes a couple of seconds.
  static constexpr auto slow = std::chrono::milliseconds(40);
  std::vector<std::string> business_ids_;
  std::vector<endpoint_info> endpoints_;
  const std::vector<std::string> one_at_a_time = {"delivery.endpoint_concurrency=1"};
};

TEST_F(ResilienceTest, SigkillLosesNothing) {
  recording_sink sink([](const received_request&) { return sink_reply{.delay = slow}; });
  create_businesses(8, sink.url());
  auto evs = make_events(300);
  auto& first = start_dispatcher(one_at_a_time);
  publish(evs);

  ASSERT_TRUE(sink.wait_for_ids(30));
  first.kill();
  auto at_kill = sink.ids().size();
  EXPECT_LT(at_kill, evs.size()) << "the stream ended before the kill: the test proves nothing";

  start_dispatcher(one_at_a_time);
  expect_all_delivered(sink, evs);
}

TEST_F(ResilienceTest, GroupMemberKilledLosesNothing) {
  recording_sink sink([](const received_request&) { return sink_reply{.delay = slow}; });
  create_businesses(8, sink.url());
  auto evs = make_events(300);
  auto& a = start_dispatcher(one_at_a_time);
  auto& b = start_dispatcher(one_at_a_time);
  // Both members hold partitions before the stream starts.
  auto has_partitions = [](const json& j) {
    return j.contains("partitions") && !j["partitions"].empty();
  };
  ASSERT_TRUE(a.wait_for_log("kafka partitions assigned", has_partitions)) << a.log_text();
  ASSERT_TRUE(b.wait_for_log("kafka partitions assigned", has_partitions)) << b.log_text();
  publish(evs);

  ASSERT_TRUE(sink.wait_for_ids(30));
  a.kill();
  EXPECT_LT(sink.ids().size(), evs.size()) << "the stream ended before the kill";
  expect_all_delivered(sink, evs);
  EXPECT_TRUE(b.running());
}

TEST_F(ResilienceTest, RedisRestartLosesNothing) {
  // A quarter of the events fail their first attempt, so their retries go through Redis.
  auto fails_first = [](const received_request& r) {
    return std::hash<std::string>{}(r.header("webhook-id")) % 4 == 0 && r.attempt == 1;
  };
  recording_sink sink([&](const received_request& r) {
    return sink_reply{.status = fails_first(r) ? 500u : 200u, .delay = slow};
  });
  create_businesses(8, sink.url());
  auto evs = make_events(200);
  start_dispatcher(one_at_a_time);
  publish(evs);

  ASSERT_TRUE(sink.wait_for_ids(30));
  redis_.stop();
  // Let deliveries go on against a missing Redis for a while (or until they stall on it).
  auto before = sink.count();
  eventually_true([&] { return sink.count() >= before + 30; }, 3s);
  redis_.start();  // same port, same append-only file

  expect_all_delivered(sink, evs);
  // The endpoints survived the restart (append-only file).
  EXPECT_EQ(get_endpoint(endpoints_[0].id).value("id", ""), endpoints_[0].id);
}

TEST_F(ResilienceTest, GracefulStopDrainsAndCommits) {
  recording_sink sink([](const received_request&) { return sink_reply{.delay = slow}; });
  create_businesses(8, sink.url());
  auto evs = make_events(200);
  auto& first = start_dispatcher({"delivery.endpoint_concurrency=1", "delivery.drain_timeout=5s"});
  publish(evs);

  ASSERT_TRUE(sink.wait_for_ids(30));
  auto t0 = std::chrono::steady_clock::now();
  auto code = first.terminate(15s);
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(code.has_value()) << "still running 15 s after SIGTERM";
  EXPECT_EQ(*code, 0);
  // The drain timeout, plus the engine's 1 s and the producer flush at most, plus slack.
  EXPECT_LT(took, 9s);
  auto requests_at_stop = sink.count();

  start_dispatcher(one_at_a_time);
  auto more = make_events(8);  // one per business: each partition moves past the stop point
  evs.insert(evs.end(), more.begin(), more.end());
  publish(more);
  expect_all_delivered(sink, evs);
  // Committed offsets mean the successor starts where the first one stopped: every request
  // beyond one per event is a redelivery, and there may be only a few.
  auto duplicates = sink.count() - evs.size();
  EXPECT_LE(duplicates, 10u) << requests_at_stop << " requests before the restart";
}

TEST_F(ResilienceTest, AStopWithAttemptsStillInFlightExitsCleanlyAndLosesNothing) {
  // Past the drain, attempts still wait on endpoints that do not answer, and more deliveries
  // wait behind them in their lanes. The stop abandons them (their coroutines destroyed before
  // the lanes they hold: a Debug build asserts it) and exits 0; a successor delivers them all.
  std::atomic<bool> hang{true};
  recording_sink sink([&hang](const received_request&) { return sink_reply{.hang = hang.load()}; });
  create_businesses(2, sink.url());
  auto evs = make_events(20);
  auto& first =
      start_dispatcher({"delivery.endpoint_concurrency=2", "delivery.drain_timeout=300ms"});
  publish(evs);
  ASSERT_TRUE(sink.wait_for_ids(4)) << sink.count() << " requests in flight";  // 2 per endpoint
  const auto code = first.terminate(15s);
  ASSERT_TRUE(code.has_value()) << "still running 15 s after SIGTERM";
  EXPECT_EQ(*code, 0) << first.log_text();
  EXPECT_TRUE(first.wait_for_log("stopped", {}, 1s)) << first.log_text();

  hang = false;
  start_dispatcher();
  expect_all_delivered(sink, evs);
}

TEST_F(ResilienceTest, AStopWhileRedisHangsExitsCleanlyAndLosesNothing) {
  // Deliveries answered while Redis hangs wait for their hand-offs (the attempt log's write)
  // when the stop comes. Their coroutines are destroyed before the lanes they hold (a Debug
  // build asserts it), the Redis client's calls ended first; the process exits 0 and a
  // successor delivers everything.
  recording_sink sink;
  create_businesses(2, sink.url());
  const auto evs = make_events(12);
  auto& first = start_dispatcher({"delivery.drain_timeout=300ms"});
  publish({evs.begin(), evs.begin() + 2});
  ASSERT_TRUE(sink.wait_for_delivered(2, 20s));
  redis_.pause();
  publish({evs.begin() + 2, evs.end()});
  ASSERT_TRUE(sink.wait_for_ids(12)) << sink.count() << " requests";  // answered, not handed off
  const auto code = first.terminate(20s);
  redis_.resume();
  ASSERT_TRUE(code.has_value()) << "still running 20 s after SIGTERM";
  EXPECT_EQ(*code, 0) << first.log_text();

  start_dispatcher();
  expect_all_delivered(sink, evs);
}

}  // namespace
}  // namespace tresse::test
