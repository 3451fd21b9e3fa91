// The delivery engine's own promises, end to end: endpoints sharded over io threads keep their
// own limits under many concurrent records; the attempt log is part of the hand-off, so a Redis
// outage while events flow loses no entry; and a local resource error (out of descriptors) is
// never charged to an endpoint.
#include <sys/resource.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration/harness.hpp"
#include "redis/client.hpp"
#include "redis/keys.hpp"
#include "support/http_client.hpp"

namespace tresse::test {
namespace {

using json = nlohmann::json;

class EngineTest : public integration_test {
 protected:
  std::vector<events::event> make_events(const std::string& business, int n) {
    std::vector<events::event> out;
    for (int i = 0; i < n; ++i) {
      out.push_back(make_event("appointment.created", business,
                               R"({"id":"apt_)" + std::to_string(i) + R"("})"));
    }
    return out;
  }
};

// The most requests that arrived within any `window`: with each request holding its slot for
// longer than `window`, that many were in flight at once.
std::size_t most_within(std::vector<std::chrono::steady_clock::time_point> at,
                        std::chrono::milliseconds window) {
  std::sort(at.begin(), at.end());
  std::size_t most = 0;
  for (std::size_t i = 0, j = 0; j < at.size(); ++j) {
    while (at[j] - at[i] >= window) ++i;
    most = std::max(most, j - i + 1);
  }
  return most;
}

TEST_F(EngineTest, ShardedEndpointsKeepTheirOwnLimitsUnderManyRecords) {
  // Six endpoints over two io threads; every event goes to all six, from records handed to the
  // shards in batches. Each endpoint must see every event exactly once, validly signed, and
  // never more than its concurrency at once, whichever shard it lives on.
  constexpr int endpoints = 6, events_n = 120, concurrency = 3;
  constexpr auto hold = std::chrono::milliseconds(40);
  std::vector<std::unique_ptr<recording_sink>> sinks;
  std::vector<endpoint_info> eps;
  for (int i = 0; i < endpoints; ++i) {
    sinks.push_back(std::make_unique<recording_sink>(
        [hold](const received_request&) { return sink_reply{.delay = hold}; }, 8));
    eps.push_back(create_endpoint("biz_shards", sinks.back()->url(), "appointment.*"));
  }
  auto& d = start_dispatcher({"delivery.io_threads=2",
                              "delivery.endpoint_concurrency=" + std::to_string(concurrency)});
  auto evs = make_events("biz_shards", events_n);
  publish(evs);

  for (int i = 0; i < endpoints; ++i) {
    SCOPED_TRACE("endpoint " + std::to_string(i));
    ASSERT_TRUE(sinks[i]->wait_for_delivered(events_n, 60s)) << sinks[i]->count();
    auto reqs = sinks[i]->requests();
    EXPECT_EQ(reqs.size(), static_cast<std::size_t>(events_n)) << "an event was sent twice";
    std::vector<std::chrono::steady_clock::time_point> at;
    for (const auto& r : reqs) {
      EXPECT_TRUE(verify(r, {eps[i].secret}));
      at.push_back(r.at);
    }
    // A slot is held from the request until its answer, `hold` later: no more than
    // `concurrency` requests can arrive within a little less than that.
    EXPECT_LE(most_within(at, hold - std::chrono::milliseconds(5)),
              static_cast<std::size_t>(concurrency));
  }
  // Both shards ran deliveries, and every delivery is logged.
  auto started = d.wait_for_log("delivery shards started");
  ASSERT_TRUE(started);
  EXPECT_EQ((*started)["shards"], 2);
  for (const auto& ep : eps) {
    auto log = attempts(ep.id, 1000);
    EXPECT_EQ(log.size(), static_cast<std::size_t>(events_n));
  }
  // Each event's list holds its six attempts and expires, and its body is kept, though only
  // one delivery per record sets the TTL and the body (the others' writes may land first).
  namespace keys = dispatcher::redis::keys;
  dispatcher::redis::client redis(*dispatcher::redis::parse_url(redis_.url()));
  for (const auto& ev : evs) {
    SCOPED_TRACE(ev.id);
    const std::string list = keys::event_attempts(ev.id);
    EXPECT_EQ(redis.command({"LLEN", list})->integer, endpoints);
    EXPECT_GT(redis.command({"PTTL", list})->integer, 0);
    EXPECT_GT(redis.command({"PTTL", keys::event_body(ev.id)})->integer, 0);
  }
  auto [status, metrics] = http_get(d.admin_port(), "/metrics");
  ASSERT_EQ(status, 200u);
  EXPECT_NE(metrics.find("tresse_deliveries_total{outcome=\"delivered\"} " +
                         std::to_string(endpoints * events_n)),
            std::string::npos);
  // Every attempt counted by what it came to: all answered 2xx here.
  EXPECT_NE(metrics.find("tresse_attempts_total{class=\"http_2xx\"} " +
                         std::to_string(endpoints * events_n)),
            std::string::npos);
  EXPECT_NE(metrics.find("tresse_attempts_total{class=\"timeout\"} 0"), std::string::npos);
}

TEST_F(EngineTest, AnEndpointsNewUrlTakesEffectFromItsNextAttempt) {
  // The lane keeps its endpoint's URL parsed between attempts: a changed URL must not be
  // served from that copy.
  recording_sink before, after;
  auto ep = create_endpoint("biz_moves", before.url(), "appointment.*");
  auto& d = start_dispatcher();
  (void)d;
  auto first = make_events("biz_moves", 1);
  publish(first);
  ASSERT_TRUE(before.wait_for_delivered(1));

  cli({"endpoints", "update", "--id", ep.id, "--url", after.url()});
  std::this_thread::sleep_for(500ms);  // the registry refreshes every 100 ms in these tests
  std::vector<events::event> second = {
      make_event("appointment.created", "biz_moves", R"({"id":"apt_moved"})")};
  publish(second);

  ASSERT_TRUE(after.wait_for_delivered(1));
  EXPECT_TRUE(verify(after.requests()[0], {ep.secret}));
  EXPECT_NE(after.requests()[0].body.find("apt_moved"), std::string::npos);
  EXPECT_EQ(before.count(), 1u);
}

TEST_F(EngineTest, ARedisOutageWhileEventsFlowLosesNoAttemptLogEntry) {
  recording_sink sink;
  auto ep = create_endpoint("biz_outage", sink.url(), "*");
  auto key = cli({"keys", "create", "--business", "biz_outage", "--mode", "live"})
                 .value("secret", "");
  ASSERT_FALSE(key.empty());
  auto& d = start_dispatcher({"api.listen=127.0.0.1:0"});
  const auto api = d.api_port();

  // Events flow before, during and after a 10 s outage.
  std::atomic<bool> stop{false};
  std::vector<events::event> published;
  std::thread producer([&] {
    for (int i = 0; !stop && i < 400; ++i) {
      auto ev = make_event("client.created", "biz_outage", R"({"id":"cli_)" + std::to_string(i) + R"("})");
      publish({ev});
      published.push_back(ev);
      std::this_thread::sleep_for(40ms);
    }
  });
  ASSERT_TRUE(sink.wait_for_delivered(10));
  redis_.stop();
  const auto delivered_at_stop = sink.delivered_ids().size();
  std::this_thread::sleep_for(10s);
  const auto delivered_during = sink.delivered_ids().size() - delivered_at_stop;
  redis_.start();  // same port, same append-only file
  stop = true;
  producer.join();

  // Deliveries went on during the outage; their hand-offs waited for Redis.
  EXPECT_GT(delivered_during, 0u);
  ASSERT_TRUE(sink.wait_for_delivered(published.size(), 60s));
  // The hand-offs of what was delivered during the outage waited for Redis (backing off up to
  // 5 s): once none is pending, every delivered event has its attempts in the Management API.
  ASSERT_TRUE(eventually_true([&] {
    return http_get(d.admin_port(), "/metrics").second.find("\ntresse_records_pending 0\n") !=
           std::string::npos;
  }, 60s));
  std::size_t checked = 0;
  for (const auto& id : sink.delivered_ids()) {
    http_client client("127.0.0.1", api);
    auto r = client.request("GET", "/v1/webhooks/" + ep.id + "/deliveries/" + id,
                            {{"Authorization", "Bearer " + key}}, "");
    ASSERT_EQ(r.status, 200u) << id << ": " << r.body;
    auto body = json::parse(r.body);
    ASSERT_TRUE(body["data"].is_array()) << r.body;
    ASSERT_FALSE(body["data"].empty()) << id << " has no attempt logged";
    EXPECT_TRUE(std::any_of(body["data"].begin(), body["data"].end(),
                            [](const json& a) { return a.value("succeeded", false); }))
        << r.body;
    ++checked;
  }
  EXPECT_EQ(checked, published.size());
}

TEST_F(EngineTest, RunningOutOfDescriptorsOpensNoCircuit) {
  // A low breaker threshold: were local errors charged to the endpoint, its circuit would open
  // after two of them.
  recording_sink sink, warm_up;
  auto ep = create_endpoint("biz_fds", sink.url(), "client.created");
  create_endpoint("biz_fds", warm_up.url(), "client.updated");
  auto& d = start_dispatcher({"delivery.breaker_failures=2"});
  // The consumer has joined and fetches this business's partition: its connections are open.
  publish({make_event("client.updated", "biz_fds")});
  ASSERT_TRUE(warm_up.wait_for_delivered(1));

  // No descriptor left: the soft limit below what the process has open now (by a margin, as it
  // may close one or two meanwhile, e.g. a Kafka connection cycling).
  const auto open_fds = static_cast<rlim_t>(std::distance(
      std::filesystem::directory_iterator("/proc/" + std::to_string(d.pid()) + "/fd"),
      std::filesystem::directory_iterator{}));
  rlimit original{};
  ASSERT_EQ(::prlimit(d.pid(), RLIMIT_NOFILE, nullptr, &original), 0);
  rlimit tight{open_fds - 8, original.rlim_max};
  ASSERT_EQ(::prlimit(d.pid(), RLIMIT_NOFILE, &tight, nullptr), 0);

  std::vector<events::event> evs;
  for (int i = 0; i < 5; ++i) evs.push_back(make_event("client.created", "biz_fds"));
  publish(evs);
  ASSERT_TRUE(d.wait_for_log("local resource error; delivery deferred without an attempt"))
      << "the dispatcher never ran out of descriptors";
  EXPECT_EQ(sink.count(), 0u);
  ASSERT_EQ(::prlimit(d.pid(), RLIMIT_NOFILE, &original, nullptr), 0);

  // The deferred deliveries come back from the schedule and succeed at their first attempt.
  ASSERT_TRUE(sink.wait_for_delivered(evs.size()));
  EXPECT_FALSE(d.wait_for_log("circuit opened", {}, 1s)) << "a local error opened the circuit";
  auto log = attempts(ep.id);
  ASSERT_EQ(log.size(), evs.size()) << log.dump();
  for (const auto& a : log) {
    EXPECT_TRUE(a.value("succeeded", false)) << a.dump();
    EXPECT_EQ(a.value("attempt", 0), 1) << "a local error was counted as an attempt";
  }
  auto [status, metrics] = http_get(d.admin_port(), "/metrics");
  ASSERT_EQ(status, 200u);
  EXPECT_NE(metrics.find("tresse_endpoints{state=\"circuit_open\"} 0"), std::string::npos);
  EXPECT_EQ(metrics.find("tresse_local_errors_total 0"), std::string::npos);
}

// A slow endpoint's full queue times out all at once; each deferral copies its event for Redis,
// so they are written a bounded number at a time (settle::max_deferrals_at_once): with Redis
// hanging, the rest wait in memory as they are, and all of them are stored once it is back.
TEST_F(EngineTest, ABurstOfDeferralsIsWrittenABoundedNumberAtATime) {
  constexpr int events_n = 600;
  recording_sink hole([](const received_request&) { return sink_reply{.hang = true}; });
  auto ep = create_endpoint("biz_burst", hole.url(), "*");
  auto& d = start_dispatcher({"delivery.endpoint_concurrency=1", "delivery.timeout=30s",
                              "delivery.endpoint_queue_timeout=300ms",
                              "delivery.endpoint_stall_after=60s", "kafka.max_pending=2000"});
  publish(make_events("biz_burst", 1));
  ASSERT_TRUE(hole.wait_for_count(1));  // the one slot is taken, and stays taken
  redis_.pause();
  publish(make_events("biz_burst", events_n));
  auto gauge = [&](const std::string& name) {
    const auto text = http_get(d.admin_port(), "/metrics").second;
    const auto at = text.find("\n" + name + " ");
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + name.size() + 2));
  };
  // Every delivery but the hanging one timed out in the queue and waits to be deferred.
  ASSERT_TRUE(eventually_true([&] {
    return gauge("tresse_deferrals_in_progress") + gauge("tresse_deferrals_waiting") >= events_n;
  }, 20s)) << http_get(d.admin_port(), "/metrics").second;
  EXPECT_EQ(gauge("tresse_deferrals_in_progress"), 256.0);
  redis_.resume();
  const bool drained = eventually_true([&] {
    return gauge("tresse_deferrals_in_progress") == 0 && gauge("tresse_deferrals_waiting") == 0;
  }, 30s);
  if (!drained) {
    dispatcher::redis::client dbg(*dispatcher::redis::parse_url(redis_.url()));
    // What Redis holds when they do not drain (a connection blocked in WAIT was the last cause).
    std::cerr << "redis clients: " << dbg.command({"CLIENT", "LIST"})->str << "\n";
    std::cerr << "redis commandstats: " << dbg.command({"INFO", "commandstats"})->str << "\n";
    std::cerr << "deferrals in progress, waiting: " << gauge("tresse_deferrals_in_progress") << " "
              << gauge("tresse_deferrals_waiting") << "\n";
  }
  ASSERT_TRUE(drained);
  dispatcher::redis::client redis(*dispatcher::redis::parse_url(redis_.url()));
  namespace keys = dispatcher::redis::keys;
  std::size_t tasks = 0;
  for (std::size_t n = 0; n < keys::default_retry_shards; ++n) {
    // Due, or claimed again by the retry poll since (deferred for a moment only).
    for (const auto& set : {keys::retry_due(n), keys::retry_claimed(n)}) {
      auto card = redis.command({"ZCARD", set});
      ASSERT_TRUE(card.has_value());
      tasks += static_cast<std::size_t>(card->integer);
    }
  }
  EXPECT_EQ(tasks, static_cast<std::size_t>(events_n)) << "a deferral was lost";
}

}  // namespace
}  // namespace tresse::test
