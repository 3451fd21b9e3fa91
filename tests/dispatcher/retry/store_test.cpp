#include "retry/store.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "redis/client.hpp"
#include "redis/cluster_slots.hpp"
#include "redis/keys.hpp"
#include "redis/request.hpp"
#include "registry/store.hpp"
#include "dispatcher/redis_test.hpp"
#include "support/redis_cluster.hpp"

namespace tresse::dispatcher::retry {
namespace {

using namespace std::chrono_literals;

class RetryStoreTest : public test_support::redis_test {
 protected:

  static task make_task(std::string event, std::string endpoint = "we_1") {
    task t;
    t.event_id = std::move(event);
    t.endpoint_id = std::move(endpoint);
    t.business_id = "biz_1";
    t.event_type = "appointment.created";
    t.body = std::string("{\"bin\":\"") + '\0' + "\xff" + "\"}";  // binary-safe
    t.attempts = 1;
    t.first_attempt_at = clock::time_point(1776594720s);
    t.last_error = "HTTP 503";
    t.source = {"tresse.events", 3, 1234, "biz_1"};
    return t;
  }

  clock::time_point now_ = clock::time_point(1776594720s);
};


TEST_F(RetryStoreTest, ScheduledTaskRoundTrips) {
  store s(redis_);
  auto t = make_task("evt_1");
  ASSERT_TRUE(s.schedule(t, now_ + 5s).has_value());
  auto got = s.get(t.id());
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(got->has_value());
  const task& g = **got;
  EXPECT_EQ(g.id(), "evt_1:we_1");
  EXPECT_EQ(g.body, t.body);
  EXPECT_EQ(g.attempts, 1);
  EXPECT_EQ(g.first_attempt_at, t.first_attempt_at);
  EXPECT_EQ(g.last_error, "HTTP 503");
  EXPECT_EQ(g.event_type, "appointment.created");
  EXPECT_EQ(g.business_id, "biz_1");
  EXPECT_EQ(g.source.topic, "tresse.events");
  EXPECT_EQ(g.source.partition, 3);
  EXPECT_EQ(g.source.offset, 1234);
  EXPECT_EQ(g.source.key, "biz_1");
  // The record expires on its own eventually.
  auto ttl = redis_->command({"PTTL", redis::keys::retry_task(s.shard_of("we_1"), t.id())});
  EXPECT_GT(ttl->integer, 0);
}

TEST_F(RetryStoreTest, SchedulingTheSameTaskTwiceKeepsOne) {
  store s(redis_);
  auto t = make_task("evt_1");
  ASSERT_TRUE(s.schedule(t, now_ + 5s).has_value());
  auto again = t;
  again.attempts = 1;
  again.last_error = "connect timeout";
  ASSERT_TRUE(s.schedule(again, now_ + 1s).has_value());
  EXPECT_EQ(s.backlog()->scheduled, 1);
  EXPECT_EQ((**s.get(t.id())).last_error, "HTTP 503");
  // The first schedule's due time holds.
  EXPECT_TRUE(s.claim_due(now_ + 2s, 10, 1min)->empty());
  EXPECT_EQ(s.claim_due(now_ + 5s, 10, 1min)->size(), 1u);
  // Also while it is claimed.
  ASSERT_TRUE(s.schedule(t, now_).has_value());
  EXPECT_EQ(s.backlog()->scheduled, 0);
  EXPECT_EQ(s.backlog()->claimed, 1);
}

TEST_F(RetryStoreTest, ClaimDueTakesOnlyDueTasksEarliestFirst) {
  store s(redis_);
  ASSERT_TRUE(s.schedule(make_task("evt_late"), now_ + 10s).has_value());
  ASSERT_TRUE(s.schedule(make_task("evt_b"), now_ + 2s).has_value());
  ASSERT_TRUE(s.schedule(make_task("evt_a"), now_ + 1s).has_value());
  ASSERT_TRUE(s.schedule(make_task("evt_c"), now_ + 3s).has_value());

  auto first = s.claim_due(now_ + 5s, 2, 1min);
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].event_id, "evt_a");
  EXPECT_EQ((*first)[1].event_id, "evt_b");
  auto second = s.claim_due(now_ + 5s, 10, 1min);
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ((*second)[0].event_id, "evt_c");
  EXPECT_TRUE(s.claim_due(now_ + 5s, 10, 1min)->empty());
  auto b = s.backlog();
  EXPECT_EQ(b->scheduled, 1);
  EXPECT_EQ(b->claimed, 3);
}

TEST_F(RetryStoreTest, NoTaskIsClaimedTwiceAcrossClients) {
  store s(redis_);
  constexpr int tasks = 300;
  for (int i = 0; i < tasks; ++i) {
    // Over several endpoints, hence several shards.
    ASSERT_TRUE(
        s.schedule(make_task("evt_" + std::to_string(i), "we_" + std::to_string(i % 10)), now_)
            .has_value());
  }
  std::mutex mu;
  std::vector<std::string> claimed;
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      // Each worker is its own client, like separate dispatcher instances.
      store mine(std::make_shared<redis::client>(*redis::parse_url(server_->url())));
      for (;;) {
        auto batch = mine.claim_due(now_ + 1s, 7, 1min);
        ASSERT_TRUE(batch.has_value());
        if (batch->empty()) return;
        std::lock_guard lock(mu);
        for (const auto& t : *batch) claimed.push_back(t.id());
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(claimed.size(), static_cast<std::size_t>(tasks));
  EXPECT_EQ(std::set<std::string>(claimed.begin(), claimed.end()).size(),
            static_cast<std::size_t>(tasks));
}

TEST_F(RetryStoreTest, ExpiredLeaseReturnsTheTask) {
  store s(redis_);
  auto t = make_task("evt_1");
  ASSERT_TRUE(s.schedule(t, now_).has_value());
  ASSERT_EQ(s.claim_due(now_, 10, 30s)->size(), 1u);
  // Within the lease nobody else gets it.
  EXPECT_TRUE(s.claim_due(now_ + 29s, 10, 30s)->empty());
  // The claimer crashed; after the lease the task is due again, for anyone.
  auto again = s.claim_due(now_ + 31s, 10, 30s);
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].id(), t.id());
  EXPECT_EQ((*again)[0].body, t.body);
}

TEST_F(RetryStoreTest, CompleteRemovesTheTask) {
  store s(redis_);
  auto t = make_task("evt_1");
  ASSERT_TRUE(s.schedule(t, now_).has_value());
  ASSERT_EQ(s.claim_due(now_, 10, 1s)->size(), 1u);
  ASSERT_TRUE(s.complete(t.id()).has_value());
  EXPECT_FALSE(s.get(t.id())->has_value());
  EXPECT_TRUE(s.claim_due(now_ + 1h, 10, 1s)->empty());
  auto b = s.backlog();
  EXPECT_EQ(b->scheduled, 0);
  EXPECT_EQ(b->claimed, 0);
  // Completing an unknown task is fine (another instance may have done it).
  EXPECT_TRUE(s.complete("evt_x:we_y").has_value());
}

TEST_F(RetryStoreTest, RescheduleUpdatesTheTaskOnlyWhileItExists) {
  store s(redis_);
  auto t = make_task("evt_1");
  ASSERT_TRUE(s.schedule(t, now_).has_value());
  auto claimed = s.claim_due(now_, 10, 1min);
  ASSERT_EQ(claimed->size(), 1u);
  task next = (*claimed)[0];
  next.attempts = 2;
  next.last_error = "timeout";
  ASSERT_TRUE(*s.reschedule(next, now_ + 5min));
  EXPECT_EQ(s.backlog()->claimed, 0);
  EXPECT_TRUE(s.claim_due(now_ + 4min, 10, 1min)->empty());
  auto due = s.claim_due(now_ + 5min, 10, 1min);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].attempts, 2);
  EXPECT_EQ((*due)[0].last_error, "timeout");

  ASSERT_TRUE(s.complete(t.id()).has_value());
  EXPECT_FALSE(*s.reschedule(next, now_ + 1h));
  EXPECT_FALSE(s.get(t.id())->has_value());
}

TEST_F(RetryStoreTest, FailsTransientlyWhileRedisIsDown) {
  test::redis_server own;
  auto opts = *redis::parse_url(own.url());
  opts.connect_timeout = 500ms;
  store s(std::make_shared<redis::client>(opts));
  own.stop();
  auto r = s.schedule(make_task("evt_1"), now_);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, error_kind::transient);
  own.start();
  EXPECT_TRUE(s.schedule(make_task("evt_1"), now_).has_value());
}

attempt_record attempt_for(std::string event, std::string endpoint, int n) {
  return {.event_id = std::move(event),
          .event_type = "appointment.created",
          .endpoint_id = std::move(endpoint),
          .attempt = n,
          .at = clock::time_point(1776594720s) + std::chrono::seconds(n),
          .status = 500 + n,
          .error = "HTTP " + std::to_string(500 + n),
          .latency = std::chrono::milliseconds(10 * n),
          .response_snippet = "oops"};
}

TEST_F(RetryStoreTest, AttemptLogIsNewestFirstAndCappedPerEndpoint) {
  store s(redis_, {.attempts_per_endpoint = 5});
  for (int i = 1; i <= 8; ++i) {
    ASSERT_TRUE(s.log_attempt(attempt_for("evt_" + std::to_string(i), "we_1", i)).has_value());
  }
  auto all = s.list_attempts("we_1", 100);
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ(all->front().event_id, "evt_8");
  EXPECT_EQ(all->back().event_id, "evt_4");
  const auto& a = all->front();
  EXPECT_EQ(a.attempt, 8);
  EXPECT_EQ(a.status, 508);
  EXPECT_EQ(a.error, "HTTP 508");
  EXPECT_EQ(a.latency, 80ms);
  EXPECT_EQ(a.at, clock::time_point(1776594728s));
  EXPECT_EQ(a.endpoint_id, "we_1");
  EXPECT_EQ(s.list_attempts("we_1", 2)->size(), 2u);
  EXPECT_TRUE(s.list_attempts("we_other", 10)->empty());
}

TEST_F(RetryStoreTest, AttemptsForEventCoverEveryAttemptOfOneEvent) {
  store s(redis_);
  ASSERT_TRUE(s.log_attempt(attempt_for("evt_1", "we_1", 1)).has_value());
  ASSERT_TRUE(s.log_attempt(attempt_for("evt_1", "we_2", 1)).has_value());
  ASSERT_TRUE(s.log_attempt(attempt_for("evt_1", "we_1", 2)).has_value());
  ASSERT_TRUE(s.log_attempt(attempt_for("evt_2", "we_1", 1)).has_value());
  auto to_we1 = s.attempts_for_event("we_1", "evt_1");
  ASSERT_EQ(to_we1->size(), 2u);
  EXPECT_EQ((*to_we1)[0].attempt, 2);
  EXPECT_EQ((*to_we1)[1].attempt, 1);
  EXPECT_EQ(s.attempts_for_event("", "evt_1")->size(), 3u);
  EXPECT_GT(redis_->command({"PTTL", "tresse:attempts:event:evt_1"})->integer, 0);
}

TEST_F(RetryStoreTest, ABatchOfAttemptsLeavesTheListsAsLoggingThemOneByOneWould) {
  store s(redis_, {.attempts_per_endpoint = 4, .attempts_per_event = 3});
  // Oldest first: two endpoints, one event fanned out to both, then more to we_1.
  std::vector<attempt_record> as = {attempt_for("evt_1", "we_1", 1), attempt_for("evt_1", "we_2", 1),
                                    attempt_for("evt_2", "we_1", 1), attempt_for("evt_3", "we_1", 1),
                                    attempt_for("evt_1", "we_1", 2), attempt_for("evt_4", "we_1", 1),
                                    attempt_for("evt_1", "we_2", 2)};
  std::vector<store::logged> batch;
  for (const auto& a : as) batch.push_back({&a, a.attempt == 1 ? "{\"id\":\"body\"}" : ""});
  const auto written = s.log_attempts_commands(batch);
  // One LPUSH and LTRIM per endpoint list (2), LPUSH, PEXPIRE and the body per event (4).
  EXPECT_EQ(written.commands.commands.size(), 2u * 2 + 4u * 3);
  auto replies = redis::run(*redis_, written.commands);
  ASSERT_TRUE(replies.has_value());
  ASSERT_TRUE(redis::first_error(*replies).has_value());
  // evt_1's list holds 4 of its cap of 3: trimmed by the second request, and only it.
  EXPECT_EQ(redis_->command({"LLEN", "tresse:attempts:event:evt_1"})->integer, 4);
  const auto trims = s.trim_commands(written, *replies);
  EXPECT_EQ(trims.commands.size(), 1u);
  ASSERT_TRUE(redis::first_error(*redis::run(*redis_, trims)).has_value());

  auto we1 = s.list_attempts("we_1", 100);  // newest first, capped at 4 of its 5
  ASSERT_EQ(we1->size(), 4u);
  EXPECT_EQ((*we1)[0].event_id, "evt_4");
  EXPECT_EQ((*we1)[1].event_id, "evt_1");
  EXPECT_EQ((*we1)[1].attempt, 2);
  EXPECT_EQ((*we1)[3].event_id, "evt_2");
  auto evt1 = s.attempts_for_event("", "evt_1");  // capped at 3 of its 4
  ASSERT_EQ(evt1->size(), 3u);
  EXPECT_EQ((*evt1)[0].endpoint_id, "we_2");
  EXPECT_EQ((*evt1)[0].attempt, 2);
  EXPECT_EQ((*evt1)[2].endpoint_id, "we_2");
  EXPECT_EQ((*evt1)[2].attempt, 1);
  EXPECT_EQ(*s.event_body("evt_3"), "{\"id\":\"body\"}");
  EXPECT_GT(redis_->command({"PTTL", "tresse:attempts:event:evt_4"})->integer, 0);
}

TEST_F(RetryStoreTest, AnEventListGetsItsTtlFromTheEntryThatSetsIt) {
  store s(redis_);
  // A fan-out's later deliveries, in a batch of their own: they push, and set no TTL.
  const auto we2 = attempt_for("evt_1", "we_2", 1);
  const auto we3 = attempt_for("evt_1", "we_3", 1);
  const std::vector<store::logged> later = {{&we2, "", false}, {&we3, "", false}};
  const auto pushed = s.log_attempts_commands(later);
  // Two endpoint lists (LPUSH, LTRIM each) and the event list's LPUSH: no PEXPIRE.
  EXPECT_EQ(pushed.commands.commands.size(), 2u * 2 + 1u);
  ASSERT_TRUE(redis::first_error(*redis::run(*redis_, pushed.commands)).has_value());
  EXPECT_EQ(redis_->command({"PTTL", "tresse:attempts:event:evt_1"})->integer, -1);  // no TTL yet
  // The first delivery's write, even when it lands after them, sets it with the body.
  const auto we1 = attempt_for("evt_1", "we_1", 1);
  const std::vector<store::logged> first = {{&we1, "{\"id\":\"body\"}", true}};
  ASSERT_TRUE(redis::first_error(*redis::run(*redis_, s.log_attempts_commands(first).commands))
                  .has_value());
  EXPECT_GT(redis_->command({"PTTL", "tresse:attempts:event:evt_1"})->integer, 0);
  EXPECT_EQ(s.attempts_for_event("", "evt_1")->size(), 3u);
  // One entry that sets it is enough for the list it shares with others.
  const auto a = attempt_for("evt_2", "we_1", 1);
  const auto b = attempt_for("evt_2", "we_2", 1);
  const std::vector<store::logged> mixed = {{&a, "", false}, {&b, "", true}};
  ASSERT_TRUE(redis::first_error(*redis::run(*redis_, s.log_attempts_commands(mixed).commands))
                  .has_value());
  EXPECT_GT(redis_->command({"PTTL", "tresse:attempts:event:evt_2"})->integer, 0);
}

TEST_F(RetryStoreTest, AnEventListIsTrimmedOnlyOnceItOutgrowsItsCap) {
  store s(redis_, {.attempts_per_event = 2});
  const auto first = attempt_for("evt_1", "we_1", 1);
  const auto written = s.log_attempt_commands(first);
  auto replies = redis::run(*redis_, written.commands);
  ASSERT_TRUE(replies.has_value());
  EXPECT_TRUE(s.trim_commands(written, *replies).commands.empty());  // 1 of 2: nothing to trim

  for (int n = 2; n <= 4; ++n) ASSERT_TRUE(s.log_attempt(attempt_for("evt_1", "we_1", n)).has_value());
  auto kept = s.attempts_for_event("", "evt_1");
  ASSERT_EQ(kept->size(), 2u);  // the newest two
  EXPECT_EQ((*kept)[0].attempt, 4);
  EXPECT_EQ((*kept)[1].attempt, 3);
}

TEST_F(RetryStoreTest, ResponseSnippetIsBoundedAndAnyBytesAreSafe) {
  store s(redis_, {.snippet_limit = 16});
  auto a = attempt_for("evt_1", "we_1", 1);
  a.response_snippet = std::string("\xff\xfe not utf-8 ") + '\0' + " and much longer than sixteen";
  ASSERT_TRUE(s.log_attempt(a).has_value());
  auto got = s.list_attempts("we_1", 1);
  ASSERT_EQ(got->size(), 1u);
  EXPECT_LE(got->front().response_snippet.size(), 16u + 6u);  // U+FFFD is 3 bytes
  EXPECT_NE(got->front().response_snippet.find("not utf"), std::string::npos);
  EXPECT_EQ(got->front().response_snippet.find("sixteen"), std::string::npos);

  auto j = to_json(got->front());
  EXPECT_EQ(j["status"], 501);
  EXPECT_EQ(j["at"], "2026-04-19T10:32:01Z");
  a.status = 0;
  a.error.clear();
  EXPECT_TRUE(to_json(a)["status"].is_null());
  EXPECT_TRUE(to_json(a)["error"].is_null());
}

TEST_F(RetryStoreTest, TasksLiveInTheirEndpointsShard) {
  store s(redis_, {.shards = 4});
  std::set<std::size_t> used;
  for (int i = 0; i < 20; ++i) {
    const auto t = make_task("evt_" + std::to_string(i), "we_" + std::to_string(i));
    ASSERT_TRUE(s.schedule(t, now_).has_value());
    const std::size_t n = s.shard_of(t.endpoint_id);
    used.insert(n);
    EXPECT_EQ(redis_->command({"EXISTS", redis::keys::retry_task(n, t.id())})->integer, 1);
    EXPECT_TRUE(redis_->command({"ZSCORE", redis::keys::retry_due(n), t.id()})->type ==
                redis::reply::kind::string);
  }
  EXPECT_GT(used.size(), 1u);  // spread, not one slot for the whole schedule
  for (std::size_t n = 4; n < 16; ++n) {
    EXPECT_EQ(redis_->command({"EXISTS", redis::keys::retry_due(n)})->integer, 0);
  }
  EXPECT_EQ(s.backlog()->scheduled, 20);
  // One shard's claim takes only that shard's tasks; claim_due goes through all of them.
  auto claim_one = store::claim_op(*used.begin(), now_, 100, 1min);
  auto one = redis::run(*redis_, claim_one);
  ASSERT_TRUE(one.has_value());
  EXPECT_FALSE(one->empty());
  for (const auto& t : *one) EXPECT_EQ(s.shard_of(t.endpoint_id), *used.begin());
  auto rest = s.claim_due(now_, 100, 1min);
  EXPECT_EQ(one->size() + rest->size(), 20u);
  EXPECT_EQ(s.backlog()->claimed, 20);
}

TEST_F(RetryStoreTest, EachEndpointsTasksAreIndexed) {
  store s(redis_);
  auto index_size = [&](const std::string& endpoint) {
    return redis_->command({"SCARD", redis::keys::retry_endpoint_tasks(s.shard_of(endpoint), endpoint)})
        ->integer;
  };
  const auto a1 = make_task("evt_1", "we_a"), a2 = make_task("evt_2", "we_a"),
             a3 = make_task("evt_3", "we_a"), b1 = make_task("evt_1", "we_b");
  for (const auto* t : {&a1, &a2, &a3, &b1}) ASSERT_TRUE(s.schedule(*t, now_).has_value());
  EXPECT_EQ(index_size("we_a"), 3);
  EXPECT_EQ(index_size("we_b"), 1);
  ASSERT_TRUE(s.complete(a1.id()).has_value());
  EXPECT_EQ(index_size("we_a"), 2);
  // A record that expired leaves the index when a claim finds it gone.
  ASSERT_TRUE(redis_->command({"DEL", redis::keys::retry_task(s.shard_of("we_a"), a2.id())}).has_value());
  auto claimed = s.claim_due(now_, 10, 1min);
  EXPECT_EQ(claimed->size(), 2u);
  EXPECT_EQ(index_size("we_a"), 1);  // a3, claimed
  ASSERT_TRUE(s.reschedule(a3, now_ + 1min).has_value());
  EXPECT_EQ(index_size("we_a"), 1);
  ASSERT_TRUE(s.complete(b1.id()).has_value());
  EXPECT_EQ(index_size("we_b"), 0);
  EXPECT_TRUE(s.schedule_now(b1, now_).value());  // recreated: indexed again
  EXPECT_EQ(index_size("we_b"), 1);
}

TEST_F(RetryStoreTest, TheShardCountIsRecordedAndChecked) {
  EXPECT_EQ(*store::recorded_shard_count(*redis_), redis::keys::default_retry_shards);
  store eight(redis_, {.shards = 8});
  ASSERT_TRUE(eight.check_shard_count().has_value());
  ASSERT_TRUE(eight.check_shard_count().has_value());  // again: the same count
  EXPECT_EQ(*store::recorded_shard_count(*redis_), 8u);
  auto other = store(redis_, {.shards = 16}).check_shard_count();
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().kind, error_kind::permanent);
  EXPECT_NE(other.error().message.find("migrate-keys"), std::string::npos);
}

// A Redis Cluster runs a script or MULTI only when its keys are in one slot: the schedule
// scripts' KEYS, the claim script's and drop_missing's. The claim script gets no key prefix in
// ARGV to build keys from (it reads no undeclared key: see ClaimReadsARecordMissingAtClaimTime).
TEST_F(RetryStoreTest, EveryScheduleScriptTouchesOneSlot) {
  store s(redis_);
  for (const char* endpoint : {"we_1", "we_2", "we_2a5xQ"}) {
    const auto t = make_task("evt_1", endpoint);
    const auto slot = redis::key_slot(redis::keys::retry_due(s.shard_of(endpoint)));
    for (const auto& r : {s.schedule_call(t, now_), s.reschedule_call(t, now_)}) {
      for (const auto& k : r.keys) EXPECT_EQ(redis::key_slot(k), slot) << k;
    }
  }
  for (std::size_t n = 0; n < s.shards(); ++n) {
    const auto r = store::claim_call(n, now_, 10, 1min);
    const auto slot = redis::key_slot(redis::keys::retry_due(n));
    for (const auto& k : r.keys) EXPECT_EQ(redis::key_slot(k), slot) << k;
    EXPECT_EQ(r.args.size(), 3u);  // now, limit, lease: no key among them
    const auto drop = store::drop_missing_call(n, "evt_1:we_2a5xQ");
    EXPECT_EQ(drop.keys.size(), 3u);
    for (const auto& k : drop.keys) EXPECT_EQ(redis::key_slot(k), slot) << k;
  }
}

// On a Redis Cluster a slot migrates key by key, so a task's record may be on the target while
// the claim script runs on the source, where the record is then absent. Here the record is
// away (renamed) while the claim script runs, and back when the records are read: the task is
// claimed with its record, not dropped as expired (which the claim script did when it read the
// records itself).
TEST_F(RetryStoreTest, ClaimReadsARecordMissingAtClaimTime) {
  store s(redis_, {.shards = 1});
  const auto t = make_task("evt_1");
  ASSERT_TRUE(s.schedule(t, now_).has_value());
  const std::string record = redis::keys::retry_task(0, t.id());
  const std::string away = redis::keys::retry_tag(0) + "away";
  ASSERT_TRUE(redis_->command({"RENAME", record, away}).has_value());
  auto op = store::claim_op(0, now_, 10, 1min);
  op.outcome = op.step(op, redis::run(*redis_, op.next));  // the claim script alone
  ASSERT_FALSE(op.outcome.has_value()) << "the records are read in a round trip of their own";
  ASSERT_TRUE(redis_->command({"RENAME", away, record}).has_value());
  auto got = redis::run(*redis_, op);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].id(), t.id());
  EXPECT_EQ((*got)[0].body, t.body);
  EXPECT_EQ(s.backlog()->claimed, 1);
}

// A record that reads empty is looked at again by a script that declares it: there after all,
// the task is claimed with it; gone, the task leaves the claimed set and its endpoint's index.
TEST_F(RetryStoreTest, AnEmptyRecordIsRecheckedBeforeItsTaskIsDropped) {
  store s(redis_, {.shards = 1});
  const auto back = make_task("evt_1"), gone = make_task("evt_2");
  for (const auto* t : {&back, &gone}) ASSERT_TRUE(s.schedule(*t, now_).has_value());
  const std::string index = redis::keys::retry_endpoint_tasks(0, "we_1");
  const std::string record = redis::keys::retry_task(0, back.id());
  const std::string away = redis::keys::retry_tag(0) + "away";
  ASSERT_TRUE(redis_->command({"RENAME", record, away}).has_value());
  ASSERT_TRUE(redis_->command({"DEL", redis::keys::retry_task(0, gone.id())}).has_value());
  auto op = store::claim_op(0, now_, 10, 1min);
  for (int round = 0; round < 2; ++round) {  // the claim script, then the records
    op.outcome = op.step(op, redis::run(*redis_, op.next));
    ASSERT_FALSE(op.outcome.has_value()) << "round " << round;
  }
  ASSERT_TRUE(redis_->command({"RENAME", away, record}).has_value());
  auto got = redis::run(*redis_, op);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].id(), back.id());
  EXPECT_EQ((*got)[0].body, back.body);
  EXPECT_EQ(s.backlog()->claimed, 1);  // `gone` left the claimed set
  EXPECT_EQ(redis_->command({"SISMEMBER", index, gone.id()})->integer, 0);
  EXPECT_EQ(redis_->command({"SISMEMBER", index, back.id()})->integer, 1);
}

// The same on a real Redis Cluster, in the middle of a slot migration as `redis-cli --cluster
// reshard` runs it: the task's record MIGRATEd to the target, its shard's due and claimed sets
// still on the source. The claim runs on the source (its keys are there) and the record is read
// through ASK from the target: nothing is lost, before or after the slot has moved.
class RetryStoreClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = new test::redis_cluster({.primaries = 3}); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  static inline test::redis_cluster* cluster_ = nullptr;
};

TEST_F(RetryStoreClusterTest, ClaimFindsARecordMigratedBeforeItsShard) {
  auto redis = std::make_shared<redis::client>(*redis::parse_url(cluster_->url()));
  store s(redis, {.shards = 1});
  const clock::time_point now(1776594720s);
  task t;
  t.event_id = "evt_m1";
  t.endpoint_id = "we_1";
  t.body = std::string("{\"bin\":\"") + '\0' + "\xff" + "\"}";
  task held = t;
  held.event_id = "evt_m0";
  // A task claimed for an hour, so that the claimed set exists on the source too (a script's
  // keys all present: Redis runs it there).
  ASSERT_TRUE(s.schedule(held, now).has_value());
  ASSERT_EQ(s.claim_due(now, 10, 1h)->size(), 1u);
  ASSERT_TRUE(s.schedule(t, now).has_value());

  const std::string record = redis::keys::retry_task(0, t.id());
  const auto [slot, from, to] = cluster_->migrate_key_alone(record, redis::key_slot(record));
  const std::string sl = std::to_string(slot);
  // Each node alone: the record is on the target (seen after ASKING), the due set on the source.
  redis::client source(*redis::parse_url(cluster_->node(from).url()));
  redis::client target(*redis::parse_url(cluster_->node(to).url()));
  auto there = target.pipeline({{"ASKING"}, {"EXISTS", record}});
  ASSERT_TRUE(there.has_value());
  ASSERT_EQ((*there)[1].integer, 1);
  ASSERT_EQ(source.command({"EXISTS", redis::keys::retry_due(0)})->integer, 1);

  auto got = s.claim_due(now, 10, 1min);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  ASSERT_EQ(got->size(), 1u) << "the task whose record had moved was dropped";
  EXPECT_EQ((*got)[0].id(), t.id());
  EXPECT_EQ((*got)[0].body, t.body);

  cluster_->move_slot(slot, from, to);  // the rest of the slot, then SETSLOT NODE
  ASSERT_EQ(cluster_->owner_of(slot), to);
  auto b = s.backlog();
  ASSERT_TRUE(b.has_value()) << b.error().message;
  EXPECT_EQ(b->claimed, 2);
  EXPECT_TRUE(s.get(t.id())->has_value());
  // Its lease runs out: claimed again, from the target now.
  auto again = s.claim_due(now + 2min, 10, 1min);
  ASSERT_TRUE(again.has_value()) << again.error().message;
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].id(), t.id());
}

}  // namespace
}  // namespace tresse::dispatcher::retry
