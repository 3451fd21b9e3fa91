#include "delivery/ordered_queue.hpp"

#include <gtest/gtest.h>

#include <array>
#include <future>
#include <random>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "delivery/intake.hpp"
#include "delivery/redis_writer.hpp"
#include "dispatcher/redis_test.hpp"
#include "redis/keys.hpp"
#include "redis/request.hpp"
#include "retry/store.hpp"
#include "support/json_mutation.hpp"
#include "support/redis_cluster.hpp"

namespace tresse::dispatcher::ordered {
namespace {

using namespace std::chrono_literals;

// The two scripts against a real redis-server, as the delivery path and the API run them.
class OrderedQueueTest : public test_support::redis_test {
 protected:
  static retry::task make(std::string event, std::string resource = "apt_1",
                          std::string endpoint = "we_1") {
    retry::task t;
    t.event_id = std::move(event);
    t.endpoint_id = std::move(endpoint);
    t.business_id = "biz_1";
    t.event_type = "appointment.updated";
    t.body = R"({"id":")" + t.event_id + R"(","data":{"id":")" + resource + R"("}})";
    t.first_attempt_at = now_;
    t.source = {"tresse.events", 0, 7, "biz_1"};
    t.resource = std::move(resource);
    return t;
  }

  place enter(const retry::task& t) { return run_place(enter_call(t, shards_, now_, ttl_)); }
  passed pass(const char* head, const char* next, const char* resource = "apt_1") {
    auto got = redis::single_reply(
        redis::run(*redis_, pass_call("we_1", resource, head, next, shards_, true)));
    EXPECT_TRUE(got.has_value()) << (got ? "" : got.error().message);
    auto p = passed_from_reply(*got);
    EXPECT_TRUE(p.has_value());
    return p ? *p : passed{};
  }
  place requeue(const retry::task& t) { return run_place(requeue_call(t, shards_, now_, ttl_)); }
  place run_place(const redis::request& r) {
    auto got = redis::single_reply(redis::run(*redis_, r));
    EXPECT_TRUE(got.has_value()) << (got ? "" : got.error().message);
    auto p = place_from_reply(*got);
    EXPECT_TRUE(p.has_value());
    return *p;
  }
  released release(const retry::task& t, bool complete) {
    auto op = release_op(t, shards_, complete, now_, ttl_, lease_, holder_);
    auto r = redis::run(*redis_, op);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
    EXPECT_FALSE(r->ask.has_value());
    return *r;
  }
  // Walks every shard's lapsed holders at `at`, as an instance's engine does: the heads made due.
  std::size_t recover(clock::time_point at) {
    std::size_t heads = 0;
    for (std::size_t n = 0; n < shards_; ++n) {
      for (;;) {
        auto op = recover_op(n, at, lease_, ttl_, 2);
        auto r = redis::run(*redis_, op);
        EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
        if (!r || !r->walked) break;
        heads += r->heads;
      }
    }
    return heads;
  }
  // evt_1 to evt_3 of one resource entered: evt_1 the head (numbered 1), the others waiting.
  std::array<retry::task, 3> enter_three() {
    std::array<retry::task, 3> e{make("evt_1"), make("evt_2"), make("evt_3")};
    for (const auto& t : e) enter(t);
    e[0].sequence = 1;
    return e;
  }
  // Claims what is due at `at`, as an instance's retry poll does (after its walk of lapsed
  // holders).
  std::vector<retry::task> claim(clock::time_point at = now_) {
    recover(at);
    retry::store s(redis_, {.shards = shards_});
    auto got = s.claim_due(at, 100, 60s);
    EXPECT_TRUE(got.has_value());
    return *got;
  }
  std::int64_t pttl(const std::string& key) { return redis_->command({"PTTL", key})->integer; }
  backlog backlog_of(const std::string& endpoint) {
    auto got = redis::run(*redis_, backlog_commands(endpoint, shards_));
    EXPECT_TRUE(got.has_value());
    auto b = backlog_from_replies(*got);
    EXPECT_TRUE(b.has_value());
    return *b;
  }

  // The endpoint's keys: under its retry shard's tag.
  static std::string tag(const std::string& endpoint) {
    return redis::keys::ordered_tag(redis::keys::retry_shard(endpoint, shards_), endpoint);
  }
  static std::string task_key(const retry::task& t) {
    return redis::keys::retry_task(redis::keys::retry_shard(t.endpoint_id, shards_), t.id());
  }

  static constexpr std::size_t shards_ = 16;
  static inline const clock::time_point now_ = clock::time_point(1776594720s);
  const std::chrono::milliseconds ttl_ = 24h;
  const std::chrono::milliseconds lease_ = 60s;
  const lease_holder holder_{"h_test", true};
};

TEST_F(OrderedQueueTest, FirstEventHeadsItsQueueAndTheNextWait) {
  auto p1 = enter(make("evt_1"));
  EXPECT_EQ(p1.sequence, 1u);
  EXPECT_EQ(p1.where, state::head);
  auto p2 = enter(make("evt_2"));
  EXPECT_EQ(p2.sequence, 2u);
  EXPECT_EQ(p2.where, state::waiting);
  auto p3 = enter(make("evt_3"));
  EXPECT_EQ(p3.sequence, 3u);
  EXPECT_EQ(p3.where, state::waiting);
  // Waiting is handed off: stored, not due (nothing to claim while the head is out).
  EXPECT_TRUE(claim().empty());
  auto b = backlog_of("we_1");
  EXPECT_EQ(b.waiting, 2);
  ASSERT_TRUE(b.oldest_queued_at.has_value());
  EXPECT_EQ(*b.oldest_queued_at, now_);
}

TEST_F(OrderedQueueTest, ABatchIsPlacedInOrderAsOneEnterEach) {
  // One script call for an intake batch: two resources interleaved, a redelivery of an event
  // within the batch, and a resource whose head is already out.
  ASSERT_EQ(enter(make("evt_c1", "apt_c")).where, state::head);
  auto a1 = make("evt_a1", "apt_a"), b1 = make("evt_b1", "apt_b"), a2 = make("evt_a2", "apt_a");
  auto c2 = make("evt_c2", "apt_c"), a2_again = make("evt_a2", "apt_a");
  auto b2 = make("evt_b2", "apt_b");
  const std::vector<const retry::task*> batch{&a1, &b1, &a2, &c2, &a2_again, &b2};
  auto got = redis::single_reply(redis::run(*redis_, enter_batch_call(batch, shards_, now_, ttl_)));
  ASSERT_TRUE(got.has_value()) << got.error().message;
  auto places = places_from_reply(*got, batch.size());
  ASSERT_TRUE(places.has_value()) << places.error().message;
  const std::vector<std::pair<std::uint64_t, state>> want{
      {1, state::head}, {1, state::head}, {2, state::waiting},
      {2, state::waiting}, {2, state::known}, {2, state::waiting}};
  ASSERT_EQ(places->size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ((*places)[i].sequence, want[i].first) << batch[i]->event_id;
    EXPECT_EQ((*places)[i].where, want[i].second) << batch[i]->event_id;
  }
  EXPECT_EQ(backlog_of("we_1").waiting, 3);
  // As if entered one at a time: the numbering goes on, the heads release in order.
  EXPECT_EQ(enter(make("evt_a3", "apt_a")).sequence, 3u);
  a1.sequence = 1;
  auto r = release(a1, false);
  ASSERT_TRUE(r.next.has_value());
  EXPECT_EQ(r.next->event_id, "evt_a2");
  EXPECT_EQ(r.next->sequence, 2u);
  EXPECT_EQ(r.next->body, a2.body);
  auto r2 = release(*r.next, true);
  ASSERT_TRUE(r2.next.has_value());
  EXPECT_EQ(r2.next->event_id, "evt_a3");
  b1.sequence = 1;
  r = release(b1, false);
  ASSERT_TRUE(r.next.has_value());
  EXPECT_EQ(r.next->event_id, "evt_b2");
  // The endpoint's index knows every resource.
  EXPECT_EQ(redis_->command({"SCARD", tag("we_1") + "resources"})->integer, 3);
}

TEST_F(OrderedQueueTest, IntakeIsIdempotentByEventId) {
  ASSERT_EQ(enter(make("evt_1")).where, state::head);
  ASSERT_EQ(enter(make("evt_2")).where, state::waiting);
  // Kafka redelivers both (a crash before the commit): same numbers, nothing added.
  auto again2 = enter(make("evt_2"));
  EXPECT_EQ(again2.sequence, 2u);
  EXPECT_EQ(again2.where, state::known);
  EXPECT_EQ(backlog_of("we_1").waiting, 1);
  auto again1 = enter(make("evt_1"));
  EXPECT_EQ(again1.sequence, 1u);
  EXPECT_EQ(again1.where, state::known);
  // The head came back with no retry task: its instance died before handing it off. It is
  // now due, with its number, for whichever instance claims it.
  auto due = claim();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].event_id, "evt_1");
  EXPECT_EQ(due[0].sequence, 1u);
  EXPECT_EQ(due[0].resource, "apt_1");
  // A third redelivery finds the task: nothing more.
  EXPECT_EQ(enter(make("evt_1")).where, state::known);
  EXPECT_TRUE(claim().empty());
  EXPECT_EQ(enter(make("evt_4")).sequence, 3u);
}

TEST_F(OrderedQueueTest, SettlingTheHeadClaimsTheNextForTheReleaser) {
  auto [e1, e2, e3] = enter_three();
  auto r = release(e1, false);
  EXPECT_TRUE(r.was_head);
  ASSERT_TRUE(r.next.has_value());
  EXPECT_EQ(r.next->event_id, "evt_2");
  EXPECT_EQ(r.next->sequence, 2u);
  EXPECT_EQ(r.next->resource, "apt_1");
  EXPECT_EQ(r.next->body, e2.body);
  EXPECT_EQ(r.next->attempts, 0);
  EXPECT_EQ(r.next->source.offset, 7);
  // Claimed, not due: no other instance's poll takes it while the releaser delivers it.
  EXPECT_TRUE(claim().empty());
  EXPECT_EQ(backlog_of("we_1").waiting, 1);
  // A second release of the old head (a duplicate hand-off) changes nothing.
  auto again = release(e1, false);
  EXPECT_FALSE(again.was_head);
  EXPECT_FALSE(again.next.has_value());
  auto recovered = claim(now_ + 2 * lease_);  // once the lease is over: evt_2 alone
  ASSERT_EQ(recovered.size(), 1u);
  EXPECT_EQ(recovered[0].event_id, "evt_2");
  // evt_2 delivered from its claim: completed and evt_3 released in one script.
  auto second = *r.next;
  auto r2 = release(second, true);
  retry::store s(redis_);
  EXPECT_FALSE(s.get(second.id())->has_value());
  ASSERT_TRUE(r2.next.has_value());
  EXPECT_EQ(r2.next->event_id, "evt_3");
  EXPECT_EQ(r2.next->sequence, 3u);
  auto r3 = release(*r2.next, true);
  EXPECT_TRUE(r3.was_head);
  EXPECT_FALSE(r3.next.has_value());  // the queue is empty now
  EXPECT_TRUE(claim(now_ + 2 * lease_).empty());
  auto b = backlog_of("we_1");
  EXPECT_EQ(b.waiting, 0);
  EXPECT_FALSE(b.oldest_queued_at.has_value());
  // The next event heads the queue at once, numbering going on.
  auto p4 = enter(make("evt_4"));
  EXPECT_EQ(p4.where, state::head);
  EXPECT_EQ(p4.sequence, 4u);
}

TEST_F(OrderedQueueTest, AReleasedHeadWhoseReleaserDiedIsDueWhenItsLeaseRunsOut) {
  auto e1 = make("evt_1");
  enter(e1);
  enter(make("evt_2"));
  e1.sequence = 1;
  ASSERT_TRUE(release(e1, false).next.has_value());
  // The releasing instance is SIGKILLed before its attempt: nothing is due during the lease.
  EXPECT_TRUE(claim(now_ + lease_ - 1ms).empty());
  auto due = claim(now_ + lease_ + 1ms);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].event_id, "evt_2");
  EXPECT_EQ(due[0].sequence, 2u);
  // Still the head: a third event waits behind it.
  EXPECT_EQ(enter(make("evt_3")).where, state::waiting);
}

// A released head is leased to its releaser and nothing else: its resource names the holder,
// whose one lease covers all its heads of the endpoint; it is on no schedule (neither claimed
// nor due, nor in its endpoint's task index, which counts scheduled retries), and completing it
// removes nothing there. Once it went through the retry schedule it is indexed, and its
// completion leaves the index as it found it.
TEST_F(OrderedQueueTest, AReleasedHeadIsOnlyLeasedUntilItIsScheduled) {
  const std::size_t n = redis::keys::retry_shard("we_1", shards_);
  const std::string claimed = redis::keys::retry_claimed(n);
  const std::string holders = redis::keys::ordered_holders(n);
  const auto holder_of = [&](const char* resource) {
    auto h = redis_->command({"HGET", tag("we_1") + "r:" + resource, "holder"});
    return h->is_nil() ? std::string("(none)") : h->str;
  };
  const std::string index = redis::keys::retry_endpoint_tasks(n, "we_1");
  auto score = [&](const std::string& key, const std::string& id) {
    return redis_->command({"ZSCORE", key, id})->is_nil() ? 0 : 1;
  };
  auto indexed = [&](const std::string& id) {
    return redis_->command({"SISMEMBER", index, id})->integer;
  };
  auto [e1, e2, e3] = enter_three();
  auto r = release(e1, false);
  ASSERT_TRUE(r.next.has_value());
  EXPECT_TRUE(r.next->leased);
  EXPECT_EQ(score(claimed, e2.id()), 0);
  EXPECT_EQ(indexed(e2.id()), 0);
  EXPECT_EQ(holder_of("apt_1"), "h_test");
  const std::string member = "we_1/h_test";
  const auto lease_until = [&] {
    auto got = redis_->command({"ZSCORE", holders, member});
    return got->is_nil() ? 0LL : std::atoll(got->str.c_str());
  };
  EXPECT_EQ(lease_until(), std::chrono::duration_cast<std::chrono::milliseconds>(
                               (now_ + lease_).time_since_epoch()).count());
  EXPECT_EQ(redis_->command({"ZCARD", holders})->integer, 1);
  // Another resource's head released: the same one lease, not a second entry.
  auto o1 = make("evt_o1", "apt_o");
  enter(o1);
  enter(make("evt_o2", "apt_o"));
  o1.sequence = 1;
  ASSERT_TRUE(release(o1, false).next.has_value());
  EXPECT_EQ(holder_of("apt_o"), "h_test");
  EXPECT_EQ(redis_->command({"ZCARD", holders})->integer, 1);
  // Delivered: its record and claim gone, evt_3 the leased head now.
  auto r2 = release(*r.next, true);
  ASSERT_TRUE(r2.next.has_value());
  EXPECT_EQ(r2.next->event_id, "evt_3");
  EXPECT_EQ(score(claimed, e2.id()), 0);
  EXPECT_FALSE(retry::store(redis_, {.shards = shards_}).get(e2.id())->has_value());
  // evt_3 fails and is rescheduled (as settle does, from its claim): indexed, due, not claimed.
  retry::store s(redis_, {.shards = shards_});
  auto third = *r2.next;
  third.attempts = 1;
  ASSERT_TRUE(s.reschedule(third, now_ + 1s).value());
  EXPECT_EQ(indexed(e3.id()), 1);
  EXPECT_EQ(score(claimed, e3.id()), 0);
  // Its holder lapsing then (the releaser died) leaves it where it is: on the schedule.
  EXPECT_EQ(recover(now_ + 2 * lease_), 1u);  // evt_o2's, not evt_3
  EXPECT_EQ(holder_of("apt_1"), "(none)");
  EXPECT_EQ(holder_of("apt_o"), "(none)");
  EXPECT_EQ(score(redis::keys::retry_due(n), e3.id()), 1);
  EXPECT_EQ(score(redis::keys::retry_due(n), "evt_o2:we_1"), 1);
  EXPECT_EQ(redis_->command({"ZCARD", holders})->integer, 0);  // walked: gone
  // Claimed from the schedule, it is not leased; its completion takes it out of the index.
  auto retried = claim(now_ + 2s);
  ASSERT_EQ(retried.size(), 1u);
  EXPECT_FALSE(retried[0].leased);
  auto r3 = release(retried[0], true);
  EXPECT_TRUE(r3.was_head);
  EXPECT_EQ(indexed(e3.id()), 0);
  EXPECT_EQ(score(claimed, e3.id()), 0);
  EXPECT_EQ(redis_->command({"ZCARD", redis::keys::retry_due(n)})->integer, 1);  // evt_o2
}

// A leased head whose lease ran out (its releaser stalled past it) and was made due, then
// completed by that releaser: the due id left behind has no record, and the claim that finds it
// drops it without a delivery.
TEST_F(OrderedQueueTest, ALeasedHeadCompletedAfterItsLeaseRanOutLeavesNothingToDeliver) {
  auto e1 = make("evt_1");
  enter(e1);
  enter(make("evt_2"));
  e1.sequence = 1;
  auto r = release(e1, false);
  ASSERT_TRUE(r.next.has_value());
  const std::size_t n = redis::keys::retry_shard("we_1", shards_);
  // A walk finds its holder lapsed and makes the head due (nothing claims it yet).
  ASSERT_EQ(recover(now_ + lease_ + 1ms), 1u);
  ASSERT_EQ(redis_->command({"ZCARD", redis::keys::retry_due(n)})->integer, 1);
  release(*r.next, true);
  EXPECT_TRUE(claim(now_ + 2 * lease_).empty());
  EXPECT_EQ(redis_->command({"ZCARD", redis::keys::retry_due(n)})->integer, 0);
  EXPECT_EQ(redis_->command({"ZCARD", redis::keys::retry_claimed(n)})->integer, 0);
}

TEST_F(OrderedQueueTest, WaitingRecordsExpireWithTheirQueue) {
  auto e1 = make("evt_1"), e2 = make("evt_2");
  enter(e1);
  enter(e2);
  const auto record = task_key(e2);
  // Waiting: as long as its resource's queue lives (longer than a task, shorter than forever).
  EXPECT_GT(pttl(record), ttl_.count());
  EXPECT_LE(pttl(record), sequence_ttl.count());
  e1.sequence = 1;
  ASSERT_TRUE(release(e1, false).next.has_value());
  // Released: a task's TTL, as every scheduled task.
  EXPECT_GT(pttl(record), 0);
  EXPECT_LE(pttl(record), ttl_.count());
}

TEST_F(OrderedQueueTest, AWaitingRecordHoldsItsBodyTheHeadsIsNotWritten) {
  auto e1 = make("evt_1"), e2 = make("evt_2");
  enter(e1);
  enter(e2);
  const auto record = task_key(e2);
  EXPECT_TRUE(redis_->command({"HEXISTS", record, "sequence"})->integer == 1);
  EXPECT_EQ(redis_->command({"HGET", record, "body"})->str, e2.body);
  // The head's body is in memory (and the attempt log's to keep): enter writes none for it.
  EXPECT_EQ(redis_->command({"EXISTS", task_key(e1)})->integer, 0);
  EXPECT_EQ(redis_->command({"KEYS", tag("we_1") + "b:*"})->elements.size(), 0u);
  // A Kafka redelivery of a waiting event changes nothing.
  auto again = e2;
  again.body = "changed";
  EXPECT_EQ(enter(again).where, state::known);
  EXPECT_EQ(redis_->command({"HGET", record, "body"})->str, e2.body);

  // Released: the body comes with it.
  e1.sequence = 1;
  auto r = release(e1, false);
  ASSERT_TRUE(r.next.has_value());
  EXPECT_EQ(r.next->body, e2.body);
  // Claimed after the lease (its releaser died): the record has its body.
  auto claimed = claim(now_ + 2 * lease_);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].body, e2.body);
}

TEST_F(OrderedQueueTest, ASettledHeadsRecordIsDeletedADuplicateHandOffLeavesARequeuedOne) {
  auto e1 = make("evt_1"), e2 = make("evt_2");
  enter(e1);
  enter(e2);
  e1.sequence = 1;
  auto r = release(e1, false);
  ASSERT_TRUE(r.next.has_value());
  ASSERT_EQ(redis_->command({"EXISTS", task_key(e2)})->integer, 1);  // out: its claim may lapse
  // e2 settled: its record goes.
  release(*r.next, true);
  EXPECT_EQ(redis_->command({"EXISTS", task_key(e2)})->integer, 0);
  // A manual retry of e2 behind a new head writes its record and body again; a late duplicate
  // release of the first e2 (not completing a task) is not the head and leaves it.
  auto e3 = make("evt_3");
  ASSERT_EQ(enter(e3).where, state::head);
  ASSERT_EQ(requeue(e2).where, state::waiting);
  ASSERT_EQ(redis_->command({"HGET", task_key(e2), "body"})->str, e2.body);
  EXPECT_FALSE(release(*r.next, false).was_head);
  EXPECT_EQ(redis_->command({"HGET", task_key(e2), "body"})->str, e2.body);
}

TEST_F(OrderedQueueTest, DeadLetteredHeadLetsTheNextGoAndLeavesAGap) {
  auto e1 = make("evt_1");
  enter(e1);
  enter(make("evt_2"));
  // evt_1 fails and is rescheduled: it stays the head, evt_2 waits.
  e1.sequence = 1;
  retry::store s(redis_);
  ASSERT_TRUE(s.schedule(e1, now_).has_value());
  auto due = claim();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].event_id, "evt_1");
  // Its schedule exhausted, it is dead-lettered: the release completes it and evt_2 goes.
  auto r = release(due[0], true);
  ASSERT_TRUE(r.next.has_value());
  EXPECT_EQ(r.next->event_id, "evt_2");
  EXPECT_EQ(r.next->sequence, 2u);  // 1 was never delivered: the receiver sees the gap before 2
  EXPECT_FALSE(s.get(due[0].id())->has_value());
}

// A delivered head passes to the next event its instance held in memory (never entered): one
// script numbers it and makes it the head; nothing is written for it to wait in.
TEST_F(OrderedQueueTest, ADeliveredHeadPassesToAHeldEventWithTheNextNumber) {
  const auto e1 = make("evt_1");
  ASSERT_EQ(enter(e1).where, state::head);
  auto p = pass("evt_1", "evt_2");
  EXPECT_EQ(p.result, pass_result::passed);
  EXPECT_EQ(p.sequence, 2u);
  const std::string r = tag("we_1") + "r:apt_1";
  EXPECT_EQ(redis_->command({"HGET", r, "head"})->str, "evt_2");
  EXPECT_EQ(redis_->command({"HGET", r, "head_seq"})->str, "2");
  EXPECT_TRUE(redis_->command({"HGET", r, "holder"})->is_nil());  // not leased: not handed off
  EXPECT_EQ(redis_->command({"LLEN", tag("we_1") + "w:apt_1"})->integer, 0);
  EXPECT_EQ(backlog_of("we_1").waiting, 0);
  EXPECT_TRUE(claim().empty());  // on no schedule: its instance attempts it now
  // And on along the chain; then an enter of a later event numbers after it.
  EXPECT_EQ(pass("evt_2", "evt_3").sequence, 3u);
  auto p4 = enter(make("evt_4"));
  EXPECT_EQ(p4.where, state::waiting);
  EXPECT_EQ(p4.sequence, 4u);
}

TEST_F(OrderedQueueTest, APassedHeadWhoseInstanceDiedIsDueWhenKafkaRedeliversIt) {
  enter(make("evt_1"));
  ASSERT_EQ(pass("evt_1", "evt_2").result, pass_result::passed);
  // Not handed off, so redelivered to whoever takes the partition: its enter finds it the head
  // with no task, and makes it due with its number.
  auto again = enter(make("evt_2"));
  EXPECT_EQ(again.where, state::known);
  EXPECT_EQ(again.sequence, 2u);
  auto due = claim();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].event_id, "evt_2");
  EXPECT_EQ(due[0].sequence, 2u);
  // evt_1, redelivered too, was passed on: nothing to do.
  EXPECT_EQ(enter(make("evt_1")).where, state::known);
  EXPECT_TRUE(claim().empty());
}

TEST_F(OrderedQueueTest, APassIsRefusedWhenRedisHoldsMoreOrTheHeadMovedOn) {
  enter(make("evt_1"));
  // Another instance entered evt_2 (a rebalance): the held copy is not passed to; the usual
  // release hands it out instead.
  ASSERT_EQ(enter(make("evt_2")).where, state::waiting);
  EXPECT_EQ(pass("evt_1", "evt_2").result, pass_result::taken);
  EXPECT_EQ(redis_->command({"HGET", tag("we_1") + "r:apt_1", "head"})->str, "evt_1");
  // Something else waiting (a manual retry's copy) refuses it too, whatever the next is.
  EXPECT_EQ(pass("evt_1", "evt_3").result, pass_result::taken);
  EXPECT_TRUE(redis_->command({"GET", tag("we_1") + "e:evt_3"})->is_nil());  // not numbered
  // Released elsewhere: no longer the head.
  auto e1 = make("evt_1");
  e1.sequence = 1;
  ASSERT_TRUE(release(e1, false).next.has_value());
  EXPECT_EQ(pass("evt_1", "evt_3").result, pass_result::not_head);
  EXPECT_EQ(pass("evt_0", "evt_3").result, pass_result::not_head);
}

TEST_F(OrderedQueueTest, ResourcesAndEndpointsAreIndependent) {
  EXPECT_EQ(enter(make("evt_a1", "apt_a")).where, state::head);
  EXPECT_EQ(enter(make("evt_a2", "apt_a")).where, state::waiting);
  auto b1 = enter(make("evt_b1", "apt_b"));
  EXPECT_EQ(b1.where, state::head);
  EXPECT_EQ(b1.sequence, 1u);
  auto other = enter(make("evt_a1", "apt_a", "we_2"));
  EXPECT_EQ(other.where, state::head);
  EXPECT_EQ(other.sequence, 1u);
}

TEST_F(OrderedQueueTest, RequeueGoesToTheBackWithANewNumber) {
  auto e1 = make("evt_1");
  enter(e1);
  // Still the head (in flight): a manual retry would only duplicate it.
  EXPECT_EQ(requeue(e1).where, state::pending);
  enter(make("evt_2"));
  EXPECT_EQ(requeue(make("evt_2")).where, state::pending);  // already waiting
  e1.sequence = 1;
  auto r = release(e1, false);
  ASSERT_TRUE(r.next.has_value());
  auto again = requeue(make("evt_1"));
  EXPECT_EQ(again.where, state::waiting);
  EXPECT_EQ(again.sequence, 3u);
  r = release(*r.next, true);  // evt_2 done: evt_1 again, as 3
  ASSERT_TRUE(r.next.has_value());
  EXPECT_EQ(r.next->event_id, "evt_1");
  EXPECT_EQ(r.next->sequence, 3u);
  EXPECT_FALSE(release(*r.next, true).next.has_value());
  // An empty queue: the retried event is the head, due now.
  auto alone = requeue(make("evt_1"));
  EXPECT_EQ(alone.where, state::due);
  EXPECT_EQ(alone.sequence, 4u);
  auto due = claim();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].sequence, 4u);
}

TEST_F(OrderedQueueTest, PurgeRemovesADeletedEndpointsQueuesInBoundedBatches) {
  std::vector<std::string> waiting_tasks;
  for (int r = 0; r < 5; ++r) {
    const std::string resource = "apt_" + std::to_string(r);
    for (int j = 0; j < 4; ++j) {
      auto t = make("evt_" + std::to_string(r) + "_" + std::to_string(j), resource);
      enter(t);
      if (j > 0) waiting_tasks.push_back(t.id());
    }
  }
  enter(make("evt_other", "apt_0", "we_2"));
  enter(make("evt_other_2", "apt_0", "we_2"));
  auto keys_of = [&](const std::string& pattern) {
    return redis_->command({"KEYS", pattern})->elements.size();
  };
  ASSERT_GT(keys_of(tag("we_1") + "[rw]:*"), 0u);
  // One resource's head released: its next is the head now, its body in its record.
  auto head = make("evt_0_0", "apt_0");
  head.sequence = 1;
  ASSERT_TRUE(release(head, false).next.has_value());
  ASSERT_EQ(keys_of(tag("we_1") + "b:*"), 0u);  // the bodies are in the records
  // A waiting event's body key as the layout before kept it: purged as well.
  ASSERT_TRUE(redis_->command({"SET", tag("we_1") + "b:evt_1_2", "old"}).has_value());
  // That head's task is the retry schedule's (a deleted endpoint's retry is dropped when
  // claimed), no longer a waiting record.
  std::erase(waiting_tasks, make("evt_0_1", "apt_0").id());
  // A budget of 3 per call: several calls, each bounded, until nothing is left.
  int calls = 0;
  for (std::int64_t left = 1; left > 0; ++calls) {
    ASSERT_LT(calls, 100);
    auto got = redis::single_reply(redis::run(*redis_, purge_call("we_1", shards_, 3)));
    ASSERT_TRUE(got.has_value()) << got.error().message;
    left = got->integer;
  }
  EXPECT_GT(calls, 2);
  EXPECT_EQ(keys_of(tag("we_1") + "[rwb]:*"), 0u);  // the bodies too, the head's among them
  EXPECT_EQ(keys_of(tag("we_1") + "backlog"), 0u);
  EXPECT_EQ(keys_of(tag("we_1") + "oldest"), 0u);
  EXPECT_EQ(keys_of(tag("we_1") + "resources"), 0u);
  for (const auto& id : waiting_tasks) {
    EXPECT_EQ(keys_of(redis::keys::retry_task(redis::keys::task_shard(id, shards_), id)), 0u) << id;
  }
  // Another endpoint's queue is untouched.
  EXPECT_EQ(backlog_of("we_2").waiting, 1);
  EXPECT_EQ(keys_of(task_key(make("evt_other_2", "apt_0", "we_2"))), 1u);
}

// A Redis Cluster runs a script only when all its keys are in one slot; the purge script also
// builds waiting-record and queue keys from the prefixes it is given, which must be in that slot.
// The release script builds none: the waiting events it reads are named in its KEYS.
TEST_F(OrderedQueueTest, EachScriptTouchesOneSlot) {
  for (const char* endpoint : {"we_1", "we_2", "we_2a5xQ"}) {
    auto t = make("evt_1", "apt_1", endpoint);
    const auto slot = redis::key_slot(tag(endpoint));
    auto t2 = make("evt_2", "apt_2", endpoint);
    const std::vector<const retry::task*> batch{&t, &t2};
    const redis::request calls[] = {enter_call(t, shards_, now_, ttl_),
                                    requeue_call(t, shards_, now_, ttl_),
                                    release_call(t, shards_, true, now_, ttl_, lease_, holder_,
                                                 t2.id(), t.id()),
                                    recover_heads_call(redis::keys::retry_shard(endpoint, shards_),
                                                       endpoint, "h_1", {{"apt_1", "evt_1"}},
                                                       now_, ttl_),
                                    purge_call(endpoint, shards_),
                                    enter_batch_call(batch, shards_, now_, ttl_),
                                    body_call(t, shards_, ttl_),
                                    pass_call(endpoint, "apt_1", "evt_1", "evt_2", shards_, true)};
    for (const auto& call : calls) {
      for (const auto& k : call.keys) EXPECT_EQ(redis::key_slot(k), slot) << k;
    }
    EXPECT_EQ(redis::key_slot(redis::keys::ordered_holders(redis::keys::retry_shard(endpoint, shards_))),
              slot);  // the walk's (recover_op) first key
    EXPECT_EQ(calls[5].keys.size(), 5u + 2 * 4u);  // the batch's every key checked above
    EXPECT_EQ(calls[2].keys.size(), 10u + 3u);  // release: with the next events' keys
    EXPECT_EQ(calls[3].keys.size(), 3u + 2u);   // recover: a head's resource and record
    EXPECT_EQ(redis::key_slot(calls[4].args[0]), slot);  // purge: the queue key prefix
    EXPECT_EQ(redis::key_slot(calls[4].args[1]), slot);  // purge: the task key prefix
  }
}

// The release script reads only waiting events named in its KEYS: called without the right
// names it settles the head, releases nothing and says which to name; named, it releases.
TEST_F(OrderedQueueTest, ReleaseReadsOnlyTheWaitingEventsItIsGiven) {
  auto e1 = make("evt_1"), e2 = make("evt_2"), e3 = make("evt_3");
  for (const auto* t : {&e1, &e2, &e3}) enter(*t);
  e1.sequence = 1;
  auto ask = [&](std::string_view next, std::string_view after) {
    auto got = redis::single_reply(redis::run(
        *redis_, release_call(e1, shards_, false, now_, ttl_, lease_, holder_, next, after)));
    EXPECT_TRUE(got.has_value()) << (got ? "" : got.error().message);
    auto r = released_from_reply(*got);
    EXPECT_TRUE(r.has_value());
    return *r;
  };
  for (const auto& [next, after] : std::vector<std::pair<std::string, std::string>>{
           {"", ""}, {"evt_9:we_1", ""}, {e2.id(), ""}, {e3.id(), e2.id()}}) {
    const auto r = ask(next, after);
    EXPECT_TRUE(r.was_head);
    EXPECT_FALSE(r.next.has_value());
    ASSERT_TRUE(r.ask.has_value()) << next << " " << after;
    EXPECT_EQ(r.ask->first, e2.id());
    EXPECT_EQ(r.ask->second, e3.id());
  }
  EXPECT_EQ(backlog_of("we_1").waiting, 2);  // nothing released yet
  const auto r = ask(e2.id(), e3.id());
  ASSERT_TRUE(r.next.has_value());
  EXPECT_EQ(r.next->event_id, "evt_2");
  EXPECT_EQ(r.next->body, e2.body);
  EXPECT_EQ(backlog_of("we_1").waiting, 1);
}

// On a real Redis Cluster, mid-migration of the endpoint's slot as `redis-cli --cluster reshard`
// runs it: the next waiting event's record already MIGRATEd to the target, everything else
// still on the source. The old script ran on the source (its declared keys were all there),
// popped the event and failed reading the record it had not declared: the event was lost. Now
// the call naming it is answered TRYAGAIN until the slot has moved, and then releases it.
class OrderedQueueClusterTest : public OrderedQueueTest {
 protected:
  static void SetUpTestSuite() { cluster_ = new test::redis_cluster({.primaries = 3}); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override {
    redis_ = std::make_shared<redis::client>(*redis::parse_url(cluster_->url()));
  }
  static inline test::redis_cluster* cluster_ = nullptr;
};

TEST_F(OrderedQueueClusterTest, ReleaseWaitsOutAMigrationOfTheNextEventsRecord) {
  auto e1 = make("evt_c1"), e2 = make("evt_c2"), e3 = make("evt_c3");
  for (const auto* t : {&e1, &e2, &e3}) enter(*t);
  e1.sequence = 1;
  // Every key the release declares exists, as on a busy shard: the head's retry task (and so
  // the due set and the endpoint's index), another task claimed, the head's body.
  const std::size_t n = redis::keys::retry_shard("we_1", shards_);
  retry::store retries(redis_, {.shards = shards_});
  auto other = make("evt_c0", "apt_0");
  ASSERT_TRUE(retries.schedule(other, now_).has_value());
  ASSERT_EQ(retries.claim_due(now_, 10, 1h)->size(), 1u);
  ASSERT_TRUE(retries.schedule(e1, now_ + 1h).has_value());
  ASSERT_TRUE(redis_->command({"SET", redis::keys::ordered_body(n, "we_1", e1.event_id), "b"}));

  const std::string record = task_key(e2);
  const auto [slot, from, to] = cluster_->migrate_key_alone(record, redis::key_slot(record));
  const std::string sl = std::to_string(slot);

  auto released = std::async(std::launch::async, [&] {
    auto op = release_op(e1, shards_, true, now_, ttl_, lease_, holder_);
    return redis::run(*redis_, op);
  });
  std::this_thread::sleep_for(300ms);  // it meets the split slot (TRYAGAIN) meanwhile
  cluster_->move_slot(slot, from, to);
  auto r = released.get();
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ASSERT_TRUE(r->next.has_value()) << "the next waiting event was lost";
  EXPECT_EQ(r->next->event_id, "evt_c2");
  EXPECT_EQ(r->next->sequence, 2u);
  EXPECT_EQ(r->next->body, e2.body);
  EXPECT_EQ(backlog_of("we_1").waiting, 1);
  auto r2 = release(*r->next, false);
  ASSERT_TRUE(r2.next.has_value());
  EXPECT_EQ(r2.next->event_id, "evt_c3");
}

// The delivery path's side (ordered_queue) through a real redis_writer: what its enters placed
// it remembers, so that a release takes one script call and reads no record back; a memory
// that Redis contradicts (another instance, a requeue) costs the Redis path, never order.
// The oldest wait after releasing e1, when e3 was entered `gap` after e2: e2's and e3's
// queueing, and the score the endpoint's backlog shows.
struct oldest_after_release {
  long long e2_queued_at = 0, e3_queued_at = 0, shown = 0;
};

class OrderedQueueMemoryTest : public OrderedQueueTest {
 protected:
  template <class T>
  T run(boost::asio::awaitable<T> a) {
    std::optional<T> out;
    boost::asio::co_spawn(io_, std::move(a), [&](std::exception_ptr e, T v) {
      if (e) std::rethrow_exception(e);
      out = std::move(v);
      io_.stop();
    });
    io_.restart();
    io_.run_for(10s);
    EXPECT_TRUE(out.has_value()) << "timed out";
    return std::move(*out);
  }
  // Enters `tasks` as one intake batch does (one call), in this order.
  std::vector<place> enter_all(ordered_queue& q, const std::vector<retry::task>& tasks) {
    std::vector<place> out(tasks.size());
    int done = 0;
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      boost::asio::co_spawn(
          io_,
          [&q, &tasks, &out, &done, i]() -> boost::asio::awaitable<void> {
            auto p = co_await q.enter(tasks[i]);
            if (p) out[i] = *p;
            ++done;
          },
          boost::asio::detached);
    }
    io_.restart();
    while (done < static_cast<int>(tasks.size()) && io_.run_one_for(10s) > 0) {
    }
    EXPECT_EQ(done, static_cast<int>(tasks.size()));
    return out;
  }
  released release_by(ordered_queue& q, const retry::task& t, bool complete) {
    auto r = run(q.release(t, complete));
    EXPECT_TRUE(r.has_value());
    return r ? *r : released{};
  }
  // Another instance's release (its own memory empty): the Redis path.
  released release_elsewhere(const retry::task& t, bool complete) {
    auto op = release_op(t, shards_, complete, clock::now(), ttl_, lease_, {"h_elsewhere"});
    auto r = redis::run(*redis_, op);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
    return *r;
  }
  long script_calls() {
    auto info = redis_->command({"INFO", "commandstats"});
    const std::string text = info ? info->str : "";
    const auto at = text.find("cmdstat_evalsha:calls=");
    return at == std::string::npos ? 0 : std::stol(text.substr(at + 22));
  }
  oldest_after_release oldest_after(ordered_queue& q, std::chrono::milliseconds gap) {
    auto e = events(3);
    enter_all(q, {e[0], e[1]});
    std::this_thread::sleep_for(gap);
    enter_all(q, {e[2]});
    const auto queued_at = [&](const retry::task& t) {
      return std::atoll(redis_->command({"HGET", task_key(t), "queued_at"})->str.c_str());
    };
    oldest_after_release out{queued_at(e[1]), queued_at(e[2]), 0};
    auto head = e[0];
    head.sequence = 1;
    EXPECT_TRUE(release_by(q, head, false).next.has_value());
    auto b = backlog_of("we_1");
    EXPECT_TRUE(b.oldest_queued_at.has_value());
    if (b.oldest_queued_at) {
      out.shown = std::chrono::duration_cast<std::chrono::milliseconds>(
                      b.oldest_queued_at->time_since_epoch())
                      .count();
    }
    return out;
  }
  std::vector<retry::task> events(int n, const char* resource = "apt_1") {
    std::vector<retry::task> out;
    for (int i = 1; i <= n; ++i) out.push_back(make("evt_" + std::to_string(i), resource));
    return out;
  }

  boost::asio::io_context io_;
  std::atomic<bool> stopping_{false};
};

TEST_F(OrderedQueueMemoryTest, ARememberedNextIsReleasedInOneCallAsRedisWouldGiveIt) {
  redis_writer writer(io_, redis_->config(), stopping_);
  ordered_queue q(writer, shards_, ttl_, lease_);
  auto e = events(3);
  e[2].first_attempt_at = now_ + 1s;
  const auto places = enter_all(q, e);
  ASSERT_EQ(places[0].where, state::head);
  ASSERT_EQ(places[2].where, state::waiting);
  EXPECT_EQ(q.memory().events(), 2u);
  // What Redis holds for evt_2, as the Redis path would hand it out.
  const std::string record = task_key(e[1]);
  auto fields = redis_->command({"HGETALL", record});
  ASSERT_TRUE(fields.has_value());
  redis::reply id, listed;
  id.type = redis::reply::kind::string;
  id.str = e[1].id();
  listed.type = redis::reply::kind::array;
  listed.elements = {id, *fields};
  const retry::task stored = retry::store::tasks_from_reply(listed).front();

  ASSERT_TRUE(redis_->command({"CONFIG", "RESETSTAT"}).has_value());
  auto head = e[0];
  head.sequence = 1;
  auto r = release_by(q, head, false);
  EXPECT_EQ(script_calls(), 1);  // named from memory: no second call
  ASSERT_TRUE(r.was_head);
  ASSERT_TRUE(r.next.has_value());
  EXPECT_EQ(r.next->event_id, "evt_2");
  EXPECT_EQ(r.next->sequence, 2u);
  EXPECT_EQ(r.next->body, e[1].body);
  EXPECT_EQ(r.next->business_id, stored.business_id);
  EXPECT_EQ(r.next->event_type, stored.event_type);
  EXPECT_EQ(r.next->attempts, stored.attempts);
  EXPECT_EQ(r.next->last_error, stored.last_error);
  EXPECT_EQ(r.next->first_attempt_at, stored.first_attempt_at);
  EXPECT_EQ(r.next->source.offset, stored.source.offset);
  EXPECT_EQ(r.next->source.topic, stored.source.topic);
  EXPECT_EQ(r.next->resource, stored.resource);
  // Released as by the Redis path: the head, claimed, counted, its body kept.
  EXPECT_EQ(redis_->command({"HGET", tag("we_1") + "r:apt_1", "head"})->str, "evt_2");
  EXPECT_EQ(redis_->command({"HGET", tag("we_1") + "r:apt_1", "head_seq"})->str, "2");
  EXPECT_TRUE(claim(clock::now()).empty());  // claimed for us
  EXPECT_EQ(backlog_of("we_1").waiting, 1);
  EXPECT_GT(pttl(record), 0);
  EXPECT_LE(pttl(record), ttl_.count());
  EXPECT_EQ(redis_->command({"HGET", record, "body"})->str, e[1].body);
  EXPECT_EQ(q.memory().events(), 1u);

  const long before = script_calls();  // the claim above made some
  auto r2 = release_by(q, *r.next, true);
  EXPECT_EQ(script_calls(), before + 1);
  ASSERT_TRUE(r2.next.has_value());
  EXPECT_EQ(r2.next->event_id, "evt_3");
  EXPECT_EQ(r2.next->sequence, 3u);
  EXPECT_FALSE(retry::store(redis_).get(e[1].id())->has_value());  // completed
  auto r3 = release_by(q, *r2.next, true);
  EXPECT_TRUE(r3.was_head);
  EXPECT_FALSE(r3.next.has_value());
  EXPECT_EQ(q.memory().events(), 0u);
  EXPECT_EQ(q.memory().resources(), 0u);  // its list is empty: nothing to remember
  auto b = backlog_of("we_1");
  EXPECT_EQ(b.waiting, 0);
  EXPECT_FALSE(b.oldest_queued_at.has_value());
}

TEST_F(OrderedQueueMemoryTest, TheOldestWaitFollowsTheFrontWhenItsNextWasQueuedASecondLater) {
  redis_writer writer(io_, redis_->config(), stopping_);
  ordered_queue q(writer, shards_, ttl_, lease_);
  const auto o = oldest_after(q, ordered::oldest_score_slack + 50ms);
  ASSERT_GE(o.e3_queued_at - o.e2_queued_at, ordered::oldest_score_slack.count());
  EXPECT_EQ(o.shown, o.e3_queued_at);
}

TEST_F(OrderedQueueMemoryTest, TheOldestWaitStaysWhenTheNextWasQueuedWithinASecondOfIt) {
  // A ZADD per step saved: the wait shows at most a second longer than it is.
  redis_writer writer(io_, redis_->config(), stopping_);
  ordered_queue q(writer, shards_, ttl_, lease_);
  const auto o = oldest_after(q, 5ms);
  ASSERT_LT(o.e2_queued_at, o.e3_queued_at);
  EXPECT_EQ(o.shown, o.e2_queued_at);
}

TEST_F(OrderedQueueMemoryTest, AMemoryAnotherInstanceOutranFallsBackToRedisAndIsForgotten) {
  redis_writer writer(io_, redis_->config(), stopping_);
  ordered_queue q(writer, shards_, ttl_, lease_);
  auto e = events(4);
  enter_all(q, e);
  ASSERT_EQ(q.memory().events(), 3u);
  // Our lease on evt_1 ran out: another instance delivered it and released evt_2.
  auto head = e[0];
  head.sequence = 1;
  auto elsewhere = release_elsewhere(head, false);
  ASSERT_TRUE(elsewhere.next.has_value());
  ASSERT_EQ(elsewhere.next->event_id, "evt_2");
  // Then it died, and evt_2 came to us through the retry schedule: our memory names evt_2 as
  // the next, the list says evt_3.
  ASSERT_TRUE(redis_->command({"CONFIG", "RESETSTAT"}).has_value());
  auto r = release_by(q, *elsewhere.next, true);
  EXPECT_EQ(script_calls(), 2);  // the hint rejected, the Redis path
  ASSERT_TRUE(r.next.has_value());
  EXPECT_EQ(r.next->event_id, "evt_3");
  EXPECT_EQ(r.next->sequence, 3u);
  EXPECT_EQ(r.next->body, e[2].body);
  // What Redis released is forgotten with all before it; what is left is right again.
  EXPECT_EQ(q.memory().events(), 1u);
  auto r2 = release_by(q, *r.next, true);
  EXPECT_EQ(script_calls(), 3);
  ASSERT_TRUE(r2.next.has_value());
  EXPECT_EQ(r2.next->event_id, "evt_4");
  EXPECT_EQ(r2.next->sequence, 4u);
  EXPECT_EQ(backlog_of("we_1").waiting, 0);
}

TEST_F(OrderedQueueMemoryTest, ARequeuedCopyOfARememberedEventIsReadFromRedis) {
  redis_writer writer(io_, redis_->config(), stopping_);
  ordered_queue q(writer, shards_, ttl_, lease_);
  auto e = events(3);
  enter_all(q, {e[0], e[1]});
  ASSERT_EQ(q.memory().events(), 1u);  // evt_2, number 2
  // Elsewhere: evt_1 and evt_2 delivered, evt_3 the head, evt_2 retried by hand behind it:
  // the same id at the front of the list, with number 4.
  auto head = e[0];
  head.sequence = 1;
  auto second = release_elsewhere(head, false);
  ASSERT_TRUE(second.next.has_value());
  EXPECT_FALSE(release_elsewhere(*second.next, true).next.has_value());
  ASSERT_EQ(enter(e[2]).where, state::head);
  ASSERT_EQ(requeue(e[1]).where, state::waiting);

  auto third = e[2];
  third.sequence = 3;
  auto r = release_by(q, third, false);
  ASSERT_TRUE(r.next.has_value());
  EXPECT_EQ(r.next->event_id, "evt_2");
  EXPECT_EQ(r.next->sequence, 4u);  // the requeued copy's number, not the remembered 2
  EXPECT_EQ(redis_->command({"HGET", tag("we_1") + "r:apt_1", "head_seq"})->str, "4");
  EXPECT_EQ(q.memory().events(), 0u);
}

// As the Redis path, which pops and skips a waiting event whose record is gone (never expected:
// it lives as long as its list): every instance does the same with it, memory or not.
TEST_F(OrderedQueueMemoryTest, ARecordGoneFromRedisIsSkippedAsTheRedisPathSkipsIt) {
  redis_writer writer(io_, redis_->config(), stopping_);
  ordered_queue q(writer, shards_, ttl_, lease_);
  auto e = events(3);
  enter_all(q, e);
  ASSERT_EQ(redis_->command({"DEL", task_key(e[1])})->integer, 1);
  auto head = e[0];
  head.sequence = 1;
  auto r = release_by(q, head, false);
  ASSERT_TRUE(r.next.has_value());
  EXPECT_EQ(r.next->event_id, "evt_3");
  EXPECT_EQ(r.next->sequence, 3u);
  EXPECT_EQ(r.next->body, e[2].body);
  EXPECT_EQ(redis_->command({"HGET", tag("we_1") + "r:apt_1", "head"})->str, "evt_3");
  EXPECT_EQ(backlog_of("we_1").waiting, 0);
  EXPECT_EQ(q.memory().events(), 0u);
  auto r2 = release_by(q, *r.next, true);
  EXPECT_TRUE(r2.was_head);
  EXPECT_FALSE(r2.next.has_value());
}

// A waiting record of the layout before bodies went into the records (its body in the
// endpoint's body key) is handed out with that body by the Redis path, and without one when
// the key is gone (shard::retry_delivery dead-letters it then).
TEST_F(OrderedQueueTest, ARecordOfTheOlderLayoutIsHandedOutWithItsBodyKey) {
  auto e1 = make("evt_1"), e2 = make("evt_2"), e3 = make("evt_3");
  enter(e1);
  enter(e2);
  enter(e3);
  for (const auto* t : {&e2, &e3}) {
    ASSERT_EQ(redis_->command({"HDEL", task_key(*t), "body"})->integer, 1);
    ASSERT_TRUE(redis_->command({"SET", tag("we_1") + "b:" + t->event_id, t->body, "PX", "1000"})
                    .has_value());
  }
  ASSERT_TRUE(redis_->command({"DEL", tag("we_1") + "b:evt_3"}).has_value());
  e1.sequence = 1;
  auto r = release(e1, false);
  ASSERT_TRUE(r.next.has_value());
  EXPECT_EQ(r.next->event_id, "evt_2");
  EXPECT_EQ(r.next->body, e2.body);
  // Kept as long as the record it goes with, and a minute more.
  EXPECT_GT(pttl(tag("we_1") + "b:evt_2"), ttl_.count());
  // Settled: the record and its body key go together.
  auto r2 = release(*r.next, true);
  EXPECT_EQ(redis_->command({"EXISTS", tag("we_1") + "b:evt_2"})->integer, 0);
  ASSERT_TRUE(r2.next.has_value());
  EXPECT_EQ(r2.next->event_id, "evt_3");
  EXPECT_TRUE(r2.next->body.empty());
}

TEST_F(OrderedQueueMemoryTest, PastItsBoundAResourceGoesTheRedisPathInOrder) {
  redis_writer writer(io_, redis_->config(), stopping_);
  ordered_queue q(writer, shards_, ttl_, lease_,
                  {.max_events = 3, .max_bytes = 1 << 20, .max_resources = 10});
  auto a = events(6, "apt_a");
  std::vector<retry::task> b;
  for (int i = 1; i <= 3; ++i) b.push_back(make("evt_b" + std::to_string(i), "apt_b"));
  enter_all(q, a);  // apt_a: 5 waiting, past the bound: started over
  EXPECT_EQ(q.memory().events(), 0u);
  enter_all(q, b);  // apt_b: 2 remembered
  EXPECT_EQ(q.memory().events(), 2u);

  ASSERT_TRUE(redis_->command({"CONFIG", "RESETSTAT"}).has_value());
  auto head = a[0];
  head.sequence = 1;
  for (std::uint64_t n = 2; n <= 6; ++n) {
    auto r = release_by(q, head, n > 2);
    ASSERT_TRUE(r.next.has_value()) << n;
    EXPECT_EQ(r.next->event_id, "evt_" + std::to_string(n));
    EXPECT_EQ(r.next->sequence, n);
    EXPECT_EQ(r.next->body, a[n - 1].body);
    head = *r.next;
  }
  EXPECT_EQ(script_calls(), 10);  // two calls each: nothing remembered for apt_a
  // apt_b still remembered: one call.
  auto b1 = b[0];
  b1.sequence = 1;
  auto r = release_by(q, b1, false);
  EXPECT_EQ(script_calls(), 11);
  ASSERT_TRUE(r.next.has_value());
  EXPECT_EQ(r.next->event_id, "evt_b2");
}

TEST(OrderedResourceTest, IsDataIdWhenItIsAnId) {
  EXPECT_EQ(resource_of(R"({"id":"evt_1","data":{"status":"x","id":"apt_q9"}})"), "apt_q9");
  EXPECT_EQ(resource_of(R"({"id":"evt_1","data":{"id":7}})"), "");
  EXPECT_EQ(resource_of(R"({"id":"evt_1","data":{"id":"a b"}})"), "");
  EXPECT_EQ(resource_of(R"({"id":"evt_1","data":{}})"), "");
  EXPECT_EQ(resource_of(R"({"id":"evt_1","data":{"id":")" + std::string(129, 'a') + R"("}})"), "");
  EXPECT_EQ(resource_of("not json"), "");
}

// data_string reads data.<name> as a DOM of the whole document would: on envelopes (and on
// random edits of them: duplicated members, broken documents, nested look-alikes) it agrees
// with nlohmann.
TEST(OrderedResourceTest, DataStringAgreesWithADomOfTheDocument) {
  auto by_dom = [](const std::string& doc, const char* name) -> std::string {
    auto j = nlohmann::json::parse(doc, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("data") || !j["data"].is_object()) return "";
    const auto& d = j["data"];
    return d.contains(name) && d[name].is_string() ? d[name].get<std::string>() : "";
  };
  const std::vector<std::string> docs = {
      R"({"id":"evt_1","type":"appointment.created","data":{"status":"x","id":"apt_q9",)"
      R"("client":{"id":"cli_nested"},"tags":[{"id":"t"}]}})",
      R"({"data":{"id":"first","id":"second"}})",
      R"({"data":{"id":"apt_1"},"data":{"name":"no id"}})",
      R"({"data":{"id":"apt_1"},"data":{"id":"apt_2"}})",
      R"({"data":{"id":"apt_1"},"data":[1]})",
      R"({"data":{"id":"a\u0062c\n"}})",
      R"({"data":{"id":"apt_1","id":7}})",
      R"({"other":{"id":"no"},"data":{"endpoint_id":"we_1"}})",
      R"({"data":"apt_1"})",
      R"(["data",{"id":"x"}])",
      R"({"data":{"id":"apt_1"}} trailing)",
      R"({"data":{"id":"apt_1")",
  };
  std::mt19937 rng(12);
  std::size_t checked = 0;
  for (const auto& doc : docs) {
    for (int i = 0; i < 300; ++i) {
      const std::string d = i == 0 ? doc : tresse::test::mutate_json(doc, rng);
      for (const char* name : {"id", "endpoint_id"}) {
        ASSERT_EQ(data_string(d, name), by_dom(d, name)) << tresse::test::shown(d) << " " << name;
        ++checked;
      }
    }
  }
  EXPECT_EQ(data_string(docs[0], "id"), "apt_q9");
  EXPECT_EQ(data_string(docs[1], "id"), "second");
  EXPECT_EQ(data_string(docs[2], "id"), "");
  EXPECT_EQ(data_string(docs[5], "id"), "abc\n");
  EXPECT_EQ(checked, docs.size() * 600);
}

}  // namespace
}  // namespace tresse::dispatcher::ordered
