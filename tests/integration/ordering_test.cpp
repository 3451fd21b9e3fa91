// End to end: `ordering: "per_resource"` (DESIGN.md "Ordered delivery"). One resource's events
// reach the endpoint in publish order, each with tresse-sequence 1, 2, 3 …, across failures,
// timeouts, two instances and a SIGKILL; a dead-lettered head lets the next go, the gap in the
// numbers showing it; a stuck resource holds back no other.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "redis/client.hpp"
#include "redis/keys.hpp"
#include "retry/store.hpp"

namespace tresse::test {
namespace {

using json = nlohmann::json;

class OrderingTest : public integration_test {
 protected:
  endpoint_info ordered_endpoint(const std::string& business, const std::string& url) {
    auto ep = create_endpoint(business, url, "*");
    auto updated = cli({"endpoints", "update", "--id", ep.id, "--ordering", "per_resource"});
    EXPECT_EQ(updated.value("ordering", ""), "per_resource") << updated.dump();
    return ep;
  }

  // The resource of a recorded request (its body's data.id).
  static std::string resource_of(const received_request& r) {
    return json::parse(r.body)["data"].value("id", "");
  }

  // Waits until every event of `evs` (interleaved()) succeeded once at least, then checks the
  // promise: per resource, the first successes in publish order; every attempt numbered by its
  // place; never an attempt of event j before a success of j - 1.
  void expect_all_in_order(const recording_sink& sink, const std::vector<events::event>& evs,
                           int resources, int per_resource) {
    std::map<std::string, std::pair<std::string, int>> published;  // id -> (resource, index)
    for (std::size_t i = 0; i < evs.size(); ++i) {
      published[evs[i].id] = {resource_of_event(evs[i]), static_cast<int>(i) / resources};
    }
    std::set<std::string> want;
    for (const auto& e : evs) want.insert(e.id);
    ASSERT_TRUE(eventually_true(
        [&] {
          auto got = first_successes(sink.requests());
          std::size_t total = 0;
          for (const auto& [r, ids] : got) total += ids.size();
          return total == want.size();
        },
        180s));
    const auto requests = sink.requests();
    // In order: per resource, the first successes in strictly increasing publish order.
    auto order = first_successes(requests);
    ASSERT_EQ(order.size(), static_cast<std::size_t>(resources));
    for (const auto& [resource, ids] : order) {
      SCOPED_TRACE(resource);
      ASSERT_EQ(ids.size(), static_cast<std::size_t>(per_resource));
      for (std::size_t i = 0; i < ids.size(); ++i) {
        EXPECT_EQ(published[ids[i]].second, static_cast<int>(i)) << ids[i];
      }
    }
    // Numbered as promised: event j of a resource is j + 1 on every attempt (none dead-lettered,
    // so no gap).
    for (const auto& r : requests) {
      const auto& [resource, index] = published[r.header("webhook-id")];
      EXPECT_EQ(r.header("tresse-sequence"), std::to_string(index + 1)) << resource;
    }
    // And never n + 1 before n was delivered: no attempt of event j before a success of j - 1.
    std::map<std::string, int> delivered_upto;  // resource -> highest index delivered so far
    for (const auto& r : requests) {
      const auto& [resource, index] = published[r.header("webhook-id")];
      auto it = delivered_upto.find(resource);
      const int done = it == delivered_upto.end() ? -1 : it->second;
      EXPECT_LE(index, done + 1) << resource << ": event " << index << " sent before " << done + 1
                                 << " was delivered";
      if (succeeded(r) && index == done + 1) delivered_upto[resource] = index;
    }
  }

  // Event j of every resource apt_0 … apt_<resources - 1>, then j + 1: publish order.
  std::vector<events::event> interleaved(const std::string& business, int resources,
                                         int per_resource) {
    std::vector<events::event> evs;
    for (int j = 0; j < per_resource; ++j) {
      for (int r = 0; r < resources; ++r) {
        evs.push_back(make_event(
            "appointment.updated", business,
            R"({"id":"apt_)" + std::to_string(r) + R"(","step":)" + std::to_string(j) + "}"));
      }
    }
    return evs;
  }
  static std::string resource_of_event(const events::event& e) {
    return json::parse(e.raw)["data"].value("id", "");
  }

  // `n` events of one resource, in publish order.
  std::vector<events::event> one_resource(const std::string& business, const std::string& resource,
                                          int n) {
    std::vector<events::event> evs;
    for (int i = 0; i < n; ++i) {
      evs.push_back(make_event("appointment.updated", business, R"({"id":")" + resource + R"("})"));
    }
    return evs;
  }
  // Five events of one resource published to an ordered endpoint whose sink answers the first
  // after `head_delay` (every other at once), with the dispatcher's queue timeout (and so the
  // longest hold) `queue_timeout`: the four behind it are held.
  struct held_run {
    std::vector<events::event> evs;
    std::unique_ptr<recording_sink> sink;
    endpoint_info ep;
  };
  held_run held_behind_a_slow_head(const std::string& business, const std::string& resource,
                                   std::chrono::milliseconds head_delay,
                                   const std::string& queue_timeout) {
    held_run out;
    out.evs = one_resource(business, resource, 5);
    out.sink = std::make_unique<recording_sink>(
        [first = out.evs.front().id, head_delay](const received_request& r) {
          return r.header("webhook-id") == first ? sink_reply{.delay = head_delay} : sink_reply{};
        });
    out.ep = ordered_endpoint(business, out.sink->url());
    start_dispatcher({"delivery.endpoint_queue_timeout=" + queue_timeout, "delivery.timeout=10s"});
    publish(out.evs);
    return out;
  }

  // One request per event, in publish order, numbered 1, 2, 3 …
  static void expect_sent_once_in_order(const std::vector<received_request>& requests,
                                        const std::vector<events::event>& evs) {
    ASSERT_EQ(requests.size(), evs.size());
    for (std::size_t i = 0; i < requests.size(); ++i) {
      EXPECT_EQ(requests[i].header("webhook-id"), evs[i].id) << i;
      EXPECT_EQ(requests[i].header("tresse-sequence"), std::to_string(i + 1)) << i;
    }
  }

  static bool succeeded(const received_request& r) { return r.answered >= 200 && r.answered < 300; }

  // Event ids in the order their first successful attempt arrived, per resource.
  static std::map<std::string, std::vector<std::string>> first_successes(
      const std::vector<received_request>& requests) {
    std::map<std::string, std::vector<std::string>> out;
    std::set<std::string> seen;
    for (const auto& r : requests) {
      if (!succeeded(r) || !seen.insert(r.header("webhook-id")).second) continue;
      out[resource_of(r)].push_back(r.header("webhook-id"));
    }
    return out;
  }

  // The dispatcher notices a new ordering within the registry refresh (100 ms here).
  // The breaker and the throttle would only slow this down: the failures are the point.
  const std::vector<std::string> settings_ = {
      "delivery.timeout=400ms", "delivery.breaker_failures=0", "delivery.throttle_decrease=0.95",
      "delivery.retry_schedule=100ms,100ms,100ms,100ms,"
      "100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms"};
};

TEST_F(OrderingTest, ResourcesArriveInPublishOrderAcrossFailuresAndASigkill) {
  // Fails about every third request and times out now and then (answered too late, as 504).
  std::atomic<int> n{0};
  recording_sink sink(
      [&n](const received_request&) {
        const int i = ++n;
        if (i % 11 == 0) return sink_reply{.status = 504, .delay = std::chrono::milliseconds(700)};
        if (i % 3 == 0) return sink_reply{.status = 500};
        return sink_reply{.delay = std::chrono::milliseconds(2)};
      },
      8);
  auto ep = ordered_endpoint("biz_ord", sink.url());
  constexpr int resources = 50, per_resource = 20;
  const auto evs = interleaved("biz_ord", resources, per_resource);
  auto& a = start_dispatcher(settings_);
  auto& b = start_dispatcher(settings_);
  auto has_partitions = [](const json& j) { return j.contains("partitions"); };
  ASSERT_TRUE(a.wait_for_log("kafka partitions assigned", has_partitions)) << a.log_text();
  ASSERT_TRUE(b.wait_for_log("kafka partitions assigned", has_partitions)) << b.log_text();
  publish(evs);

  ASSERT_TRUE(eventually_true([&] { return sink.delivered_ids().size() >= 250; }, 60s));
  a.kill();
  EXPECT_LT(sink.delivered_ids().size(), evs.size()) << "the stream ended before the kill";

  expect_all_in_order(sink, evs, resources, per_resource);
}

// With a sink that takes everything, a resource's events pass from head to head, held in
// memory and never handed off before their own attempt. SIGKILLed mid-stream, the instance
// leaves heads Redis knows but no retry task: Kafka redelivers them to the next instance,
// whose enter makes them due with their numbers. Nothing lost, nothing reordered.
TEST_F(OrderingTest, PassedHeadsComeBackInOrderAfterASigkill) {
  recording_sink sink(
      [](const received_request&) { return sink_reply{.delay = std::chrono::milliseconds(5)}; });
  ordered_endpoint("biz_passkill", sink.url());
  constexpr int resources = 10, per_resource = 40;
  const auto evs = interleaved("biz_passkill", resources, per_resource);
  auto& first = start_dispatcher(settings_);
  publish(evs);
  ASSERT_TRUE(eventually_true([&] { return sink.delivered_ids().size() >= 100; }, 60s));
  first.kill();
  EXPECT_LT(sink.delivered_ids().size(), evs.size()) << "the stream ended before the kill";
  start_dispatcher(settings_);
  expect_all_in_order(sink, evs, resources, per_resource);
}

// A resource flowing through Redis (its first event failed once, so the rest waited there) is
// released head by head to the instance that releases it. Stopped gracefully, that instance
// hands the head it was given back (due now for any instance) instead of holding it for its
// 60 s lease and a walk: another instance goes on within seconds, in order.
TEST_F(OrderingTest, AGracefulStopHandsBackTheHeadItWasLeased) {
  // Slow enough that the stream outlasts the consumer's close (seconds on the mock cluster),
  // during which the engine still delivers.
  constexpr int per_resource = 60;
  const auto evs = interleaved("biz_handback", 1, per_resource);
  recording_sink sink([first = evs.front().id](const received_request& r) {
    if (r.header("webhook-id") == first && r.attempt == 1) return sink_reply{.status = 500};
    return sink_reply{.delay = std::chrono::milliseconds(100)};
  });
  ordered_endpoint("biz_handback", sink.url());
  const std::vector<std::string> settings{"delivery.retry_lease=60s"};  // tests run with 2 s
  auto& a = start_dispatcher(settings);
  publish(evs);
  ASSERT_TRUE(eventually_true([&] { return sink.delivered_ids().size() >= 5; }));
  start_dispatcher(settings);  // polls the retry schedule like any instance
  ASSERT_TRUE(eventually_true([&] { return sink.delivered_ids().size() >= 12; }));
  const auto stopped_at = std::chrono::steady_clock::now();
  EXPECT_EQ(a.terminate(std::chrono::seconds(20)), 0);
  ASSERT_LT(sink.delivered_ids().size(), evs.size()) << "the stream ended before the stop";
  EXPECT_TRUE(eventually_true([&] { return sink.delivered_ids().size() == evs.size(); },
                              std::chrono::seconds(25)))
      << "held back after the stop: " << sink.delivered_ids().size() << " of " << evs.size();
  EXPECT_LT(std::chrono::steady_clock::now() - stopped_at, std::chrono::seconds(30));
  expect_all_in_order(sink, evs, 1, per_resource);
}

TEST_F(OrderingTest, DeadLetteredHeadLetsTheNextGoAndOthersAreNotHeldBack) {
  auto a1 = make_event("appointment.created", "biz_dl", R"({"id":"apt_a"})");
  auto a2 = make_event("appointment.rescheduled", "biz_dl", R"({"id":"apt_a"})");
  auto a3 = make_event("appointment.canceled", "biz_dl", R"({"id":"apt_a"})");
  std::vector<events::event> others;
  for (int i = 0; i < 5; ++i) {
    others.push_back(make_event("appointment.updated", "biz_dl", R"({"id":"apt_b"})"));
  }
  const std::string stuck = a1.id;  // always fails
  recording_sink sink([stuck](const received_request& r) {
    return r.header("webhook-id") == stuck ? sink_reply{.status = 500} : sink_reply{};
  });
  auto ep = ordered_endpoint("biz_dl", sink.url());
  // Slow retries: apt_a is stuck on its head for a few seconds.
  auto& d = start_dispatcher({"delivery.retry_schedule=2s,2s,2s", "delivery.retry_jitter=0"});
  std::vector<events::event> all = {a1, a2, a3};
  all.insert(all.end(), others.begin(), others.end());
  publish(all);

  // apt_b flows while apt_a's head fails: a2 is not attempted meanwhile.
  ASSERT_TRUE(eventually_true([&] {
    auto got = sink.delivered_ids();
    for (const auto& e : others) {
      if (!got.contains(e.id)) return false;
    }
    return true;
  }));
  for (const auto& r : sink.requests()) EXPECT_NE(r.header("webhook-id"), a2.id);
  // What waits shows: a2 and a3 behind a1.
  auto health = cli({"endpoints", "health", ep.id});
  EXPECT_EQ(health["data"][0]["ordering"], "per_resource") << health.dump();
  EXPECT_EQ(health["data"][0]["backlog"]["ordered_waiting"], 2) << health.dump();
  EXPECT_TRUE(health["data"][0]["backlog"]["ordered_oldest_queued_at"].is_string());
  // And on /metrics, over all ordered endpoints.
  auto [status, metrics] = http_get(d.admin_port(), "/metrics");
  ASSERT_EQ(status, 200u);
  EXPECT_NE(metrics.find("\ntresse_ordered_waiting 2\n"), std::string::npos) << metrics;
  const auto oldest = metrics.find("\ntresse_ordered_oldest_wait_seconds ");
  ASSERT_NE(oldest, std::string::npos) << metrics;
  EXPECT_GT(std::stod(metrics.substr(oldest + 36)), 0.0);

  // a1 exhausts its schedule (4 attempts) and is dead-lettered; a2 and a3 follow, 2 and 3.
  auto dead = kafka_.read(dead_letter_topic(), 1, eventually);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(json::parse(dead[0].value).value("endpoint_id", ""), ep.id);
  ASSERT_TRUE(sink.wait_for_delivered(others.size() + 2));
  const auto requests = sink.requests();
  int a1_attempts = 0;
  std::size_t last_a1 = 0, first_a2 = 0, first_a3 = 0;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const auto id = requests[i].header("webhook-id");
    const auto seq = requests[i].header("tresse-sequence");
    if (id == a1.id) {
      ++a1_attempts;
      last_a1 = i;
      EXPECT_EQ(seq, "1");
    } else if (id == a2.id) {
      if (first_a2 == 0) first_a2 = i;
      EXPECT_EQ(seq, "2");  // 1 never arrived: the receiver sees the gap
    } else if (id == a3.id) {
      if (first_a3 == 0) first_a3 = i;
      EXPECT_EQ(seq, "3");
    }
  }
  EXPECT_EQ(a1_attempts, 4);
  EXPECT_GT(first_a2, last_a1);
  EXPECT_GT(first_a3, first_a2);
  // apt_b numbered on its own: 1..5 in publish order.
  std::vector<std::string> b_seqs;
  for (const auto& r : requests) {
    if (resource_of(r) == "apt_b") b_seqs.push_back(r.header("tresse-sequence"));
  }
  EXPECT_EQ(b_seqs, (std::vector<std::string>{"1", "2", "3", "4", "5"}));
}

TEST_F(OrderingTest, AWaitingEventWhoseBodyIsGoneIsDeadLetteredNeverSentEmpty) {
  // A waiting record of the layout before bodies went into the records keeps its body in the
  // endpoint's body key. Should that key be gone when the event's turn comes (evicted,
  // deleted), the event is dead-lettered and the next one goes. (A record of today's layout
  // holds its body: gone with it, the event is skipped, as ordered_queue_test shows.)
  auto a1 = make_event("appointment.created", "biz_body", R"({"id":"apt_a"})");
  auto a2 = make_event("appointment.rescheduled", "biz_body", R"({"id":"apt_a"})");
  auto a3 = make_event("appointment.canceled", "biz_body", R"({"id":"apt_a"})");
  std::atomic<bool> hold{true};  // a1 fails until the body is gone
  recording_sink sink([&hold, first = a1.id](const received_request& r) {
    return r.header("webhook-id") == first && hold ? sink_reply{.status = 500} : sink_reply{};
  });
  auto ep = ordered_endpoint("biz_body", sink.url());
  const std::vector<std::string> settings{
      "delivery.retry_schedule=300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms",
      "delivery.retry_jitter=0", "delivery.breaker_failures=0"};
  auto& first = start_dispatcher(settings);
  publish({a1, a2, a3});
  ASSERT_TRUE(eventually_true([&] {
    return cli({"endpoints", "health", ep.id})["data"][0]["backlog"]["ordered_waiting"] == 2;
  }));
  // Its memory of a2 (and a2's body) goes with it: the next instance reads a2 from Redis.
  first.kill();
  dispatcher::redis::client redis(*dispatcher::redis::parse_url(redis_.url()));
  namespace keys = dispatcher::redis::keys;
  const std::size_t shard = keys::retry_shard(ep.id, keys::default_retry_shards);
  auto removed = redis.command(
      {"HDEL", keys::retry_task(shard, dispatcher::retry::task_id(a2.id, ep.id)), "body"});
  ASSERT_TRUE(removed.has_value());
  ASSERT_EQ(removed->integer, 1) << "a2's body was not in its record";
  ASSERT_EQ(redis.command({"EXISTS", keys::ordered_body(shard, ep.id, a2.id)})->integer, 0);
  start_dispatcher(settings);
  hold = false;

  auto dead = kafka_.read(dead_letter_topic(), 1, eventually);
  ASSERT_EQ(dead.size(), 1u);
  const auto letter = json::parse(dead[0].value);
  EXPECT_EQ(letter.value("endpoint_id", ""), ep.id);
  EXPECT_NE(letter.dump().find("event_body_missing"), std::string::npos) << letter.dump();
  EXPECT_NE(letter.dump().find(a2.id), std::string::npos) << letter.dump();
  ASSERT_TRUE(eventually_true([&] { return sink.delivered_ids().contains(a3.id); }));
  for (const auto& r : sink.requests()) {
    EXPECT_NE(r.header("webhook-id"), a2.id) << "sent without its body";
    EXPECT_FALSE(r.body.empty());
    if (r.header("webhook-id") == a3.id) {
      EXPECT_EQ(r.header("tresse-sequence"), "3");
    }
  }
}

TEST_F(OrderingTest, OneStuckResourceHoldsBackNoOther) {
  // 49 resources x 10 events, once alone and once beside one resource whose every delivery
  // fails (answered 500 at once). Each success takes the sink 20 ms: with the endpoint's 10
  // slots a run takes about 490 x 20 ms / 10 = 1 s of sink time, so what is compared is the
  // dispatcher's scheduling, not the CPU a loaded machine happens to give it.
  const std::string stuck = "apt_stuck";
  recording_sink sink(
      [&stuck](const received_request& r) {
        if (resource_of(r) == stuck) return sink_reply{.status = 500};
        return sink_reply{.delay = std::chrono::milliseconds(20)};
      },
      16);
  auto ep = ordered_endpoint("biz_stuck", sink.url());
  // The stuck head is retried every 200 ms for the whole run (12 s), so it never gets out of
  // the way by being dead-lettered. The breaker sees the other resources' successes between
  // its failures and stays closed, as it would in production.
  std::string schedule = "delivery.retry_schedule=200ms";
  for (int i = 1; i < 60; ++i) schedule += ",200ms";
  auto& d = start_dispatcher({schedule});
  auto has_partitions = [](const json& j) { return j.contains("partitions"); };
  ASSERT_TRUE(d.wait_for_log("kafka partitions assigned", has_partitions)) << d.log_text();

  constexpr int others = 49, per_resource = 10;
  // The 49 resources' events of one run (prefix), interleaved as in the first test.
  auto run_of = [&](const std::string& prefix) {
    std::vector<events::event> evs;
    for (int j = 0; j < per_resource; ++j) {
      for (int r = 0; r < others; ++r) {
        evs.push_back(make_event("appointment.updated", "biz_stuck",
                                 R"({"id":")" + prefix + std::to_string(r) + R"("})"));
      }
    }
    return evs;
  };
  // From the run's first request to the last of its events' first successes.
  auto run_time = [&](const std::vector<events::event>& evs) {
    std::set<std::string> ids;
    for (const auto& e : evs) ids.insert(e.id);
    EXPECT_TRUE(eventually_true(
        [&] {
          auto got = sink.delivered_ids();
          return std::all_of(ids.begin(), ids.end(),
                             [&](const auto& id) { return got.contains(id); });
        },
        120s));
    std::optional<std::chrono::steady_clock::time_point> first, last;
    for (const auto& r : sink.requests()) {
      if (!ids.contains(r.header("webhook-id"))) continue;
      if (!first) first = r.at;
      if (succeeded(r)) last = r.at;
    }
    EXPECT_TRUE(first && last);
    return first && last ? *last - *first : std::chrono::steady_clock::duration::max();
  };
  // A warm-up: the connections to the sink and the first scripts' loading.
  const auto warm = run_of("apt_warm_");
  publish(warm);
  run_time(warm);

  const auto alone = run_of("apt_alone_");
  publish(alone);
  const auto without = run_time(alone);

  std::vector<events::event> with_stuck;
  for (int j = 0; j < 5; ++j) {
    with_stuck.push_back(
        make_event("appointment.updated", "biz_stuck", R"({"id":")" + stuck + R"("})"));
  }
  const auto beside = run_of("apt_beside_");
  with_stuck.insert(with_stuck.end(), beside.begin(), beside.end());
  publish(with_stuck);
  const auto with = run_time(beside);

  using ms = std::chrono::milliseconds;
  const auto without_ms = std::chrono::duration_cast<ms>(without).count();
  const auto with_ms = std::chrono::duration_cast<ms>(with).count();
  RecordProperty("without_ms", std::to_string(without_ms));
  RecordProperty("with_stuck_ms", std::to_string(with_ms));
  EXPECT_LE(with_ms, without_ms * 12 / 10)
      << "without the stuck resource " << without_ms << " ms, beside it " << with_ms << " ms";
  // It is stuck: its head fails again and again, and nothing behind it is sent.
  auto stuck_requests = [&] {
    std::vector<received_request> out;
    for (const auto& r : sink.requests()) {
      if (resource_of(r) == stuck) out.push_back(r);
    }
    return out;
  };
  EXPECT_TRUE(eventually_true([&] { return stuck_requests().size() >= 3; }));
  for (const auto& r : stuck_requests()) {
    EXPECT_EQ(r.header("webhook-id"), with_stuck[0].id);
    EXPECT_EQ(r.answered, 500u);
  }
  std::cout << "49 resources without the stuck one: " << without_ms << " ms, beside it: " << with_ms
            << " ms\n";
}

TEST_F(OrderingTest, DeletingTheEndpointRemovesItsQueues) {
  recording_sink sink([](const received_request&) { return sink_reply{.status = 500}; });
  auto ep = ordered_endpoint("biz_del", sink.url());
  start_dispatcher({"delivery.retry_schedule=10s"});
  std::vector<events::event> evs;
  for (const char* resource : {"apt_a", "apt_a", "apt_a", "apt_b", "apt_b"}) {
    evs.push_back(make_event("appointment.updated", "biz_del",
                             std::string(R"({"id":")") + resource + R"("})"));
  }
  publish(evs);
  // Both heads failed once; three events wait behind them.
  ASSERT_TRUE(eventually_true([&] {
    return cli({"endpoints", "health", ep.id})["data"][0]["backlog"]["ordered_waiting"] == 3;
  }));
  dispatcher::redis::client redis(*dispatcher::redis::parse_url(redis_.url()));
  auto count = [&](const std::string& pattern) {
    auto got = redis.command({"KEYS", pattern});
    EXPECT_TRUE(got.has_value());
    return got ? got->elements.size() : 0u;
  };
  namespace keys = dispatcher::redis::keys;
  const std::size_t shard = keys::retry_shard(ep.id, keys::default_retry_shards);
  const std::string tag = keys::ordered_tag(shard, ep.id);
  ASSERT_EQ(count(tag + "[rw]:*"), 4u);  // two resources' numbering and waiting lists
  const auto waiting_task = keys::retry_task(shard, dispatcher::retry::task_id(evs[1].id, ep.id));
  ASSERT_EQ(count(waiting_task), 1u);
  // A waiting event's body apart, as the layout before bodies went into the records kept it.
  ASSERT_TRUE(redis.command({"SET", tag + "b:" + evs[2].id, "old"}).has_value());

  cli({"endpoints", "delete", "--id", ep.id});
  EXPECT_EQ(count(tag + "[rwb]:*"), 0u);
  EXPECT_EQ(count(tag + "backlog"), 0u);
  EXPECT_EQ(count(tag + "oldest"), 0u);
  EXPECT_EQ(count(tag + "resources"), 0u);
  for (std::size_t i : {1u, 2u, 4u}) {
    EXPECT_EQ(count(keys::retry_task(shard, dispatcher::retry::task_id(evs[i].id, ep.id))), 0u)
        << "waiting event " << i;
  }
}

// Behind a head in flight, a resource's next events are held in memory, and each delivered
// head passes to the next in one script: with a sink that takes everything, none of them ever
// waits in Redis (no waiting record, list or backlog count is written), and they still arrive
// in order, numbered 1 to 20.
TEST_F(OrderingTest, BehindADeliveredHeadTheNextEventsPassWithoutWaitingInRedis) {
  recording_sink sink;
  auto ep = ordered_endpoint("biz_pass", sink.url());
  start_dispatcher();
  std::vector<events::event> evs;
  for (int i = 0; i < 20; ++i) {
    evs.push_back(make_event("appointment.updated", "biz_pass", R"({"id":"apt_p"})"));
  }
  publish(evs);
  ASSERT_TRUE(sink.wait_for_delivered(evs.size()));
  expect_sent_once_in_order(sink.requests(), evs);
  dispatcher::redis::client redis(*dispatcher::redis::parse_url(redis_.url()));
  namespace keys = dispatcher::redis::keys;
  const std::size_t shard = keys::retry_shard(ep.id, keys::default_retry_shards);
  const std::string tag = keys::ordered_tag(shard, ep.id);
  EXPECT_EQ(redis.command({"EXISTS", tag + "backlog"})->integer, 0) << "an event waited in Redis";
  EXPECT_EQ(redis.command({"EXISTS", tag + "w:apt_p"})->integer, 0);
  for (const auto& e : evs) {
    EXPECT_EQ(
        redis.command({"EXISTS", keys::retry_task(shard, dispatcher::retry::task_id(e.id, ep.id))})
            ->integer,
        0);
  }
  // The resource's queue is empty again: its numbering goes on from 20.
  EXPECT_EQ(redis.command({"HGET", tag + "r:apt_p", "last"})->str, "20");
  EXPECT_TRUE(redis.command({"HGET", tag + "r:apt_p", "head"})->is_nil());
}

// A hold lasts at most the queue timeout: behind a head that takes longer, the held events are
// entered into Redis (handed off: their offsets may commit) and still go in order after it.
TEST_F(OrderingTest, EventsHeldLongerThanTheQueueTimeoutWaitInRedis) {
  auto run = held_behind_a_slow_head("biz_slow", "apt_s", std::chrono::seconds(6), "500ms");
  const auto& evs = run.evs;
  auto& sink = *run.sink;
  const auto& ep = run.ep;
  // While the head is still out, the four behind it come to wait in Redis.
  ASSERT_TRUE(eventually_true([&] {
    return cli({"endpoints", "health", ep.id})["data"][0]["backlog"]["ordered_waiting"] == 4;
  }));
  EXPECT_TRUE(sink.delivered_ids().empty()) << "the head answered before the hold ended";
  ASSERT_TRUE(sink.wait_for_delivered(evs.size()));
  expect_sent_once_in_order(sink.requests(), evs);
}

// Deleted while events are held behind its head: they are dropped with the endpoint, not
// entered into queues its deletion has just purged.
TEST_F(OrderingTest, EventsHeldForADeletedEndpointLeaveNoQueueBehind) {
  auto run = held_behind_a_slow_head("biz_delheld", "apt_d", std::chrono::seconds(3), "60s");
  const auto& evs = run.evs;
  auto& sink = *run.sink;
  const auto& ep = run.ep;
  ASSERT_TRUE(eventually_true([&] { return sink.requests().size() == 1; }));
  cli({"endpoints", "delete", "--id", ep.id});
  ASSERT_TRUE(sink.wait_for_delivered(1));  // the head, still answered
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(sink.requests().size(), 1u) << "an event of the deleted endpoint was sent";
  dispatcher::redis::client redis(*dispatcher::redis::parse_url(redis_.url()));
  namespace keys = dispatcher::redis::keys;
  const std::size_t shard = keys::retry_shard(ep.id, keys::default_retry_shards);
  const std::string tag = keys::ordered_tag(shard, ep.id);
  auto left = redis.command({"KEYS", tag + "[rwb]:*"});
  ASSERT_TRUE(left.has_value());
  EXPECT_TRUE(left->elements.empty()) << left->elements.front().str;
  for (const auto& ev : evs) {
    EXPECT_EQ(
        redis
            .command({"EXISTS", keys::retry_task(shard, dispatcher::retry::task_id(ev.id, ep.id))})
            ->integer,
        0);
  }
}

TEST_F(OrderingTest, UnorderedEndpointsCarryNoSequence) {
  recording_sink sink;
  create_endpoint("biz_un", sink.url(), "*");
  start_dispatcher();
  publish({make_event("client.created", "biz_un", R"({"id":"cli_1"})")});
  ASSERT_TRUE(sink.wait_for_delivered(1));
  EXPECT_EQ(sink.requests()[0].header("tresse-sequence"), "");
}

}  // namespace
}  // namespace tresse::test
