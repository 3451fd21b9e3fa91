// `tresse-dispatcher migrate-keys` through the program's own parser, against a real
// redis-server holding the single-node layout written before the retry schedule was sharded.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/keys.hpp"
#include "api/portal_sessions.hpp"
#include "delivery/ordered_queue.hpp"
#include "dispatcher/cli/run_cli.hpp"
#include "redis/client.hpp"
#include "redis/keys.hpp"
#include "redis/request.hpp"
#include "registry/store.hpp"
#include "retry/store.hpp"
#include "support/redis_server.hpp"

namespace tresse::dispatcher {
namespace {

using namespace std::chrono_literals;
namespace keys = redis::keys;
using clock = std::chrono::system_clock;

class MigrateKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_ = std::make_shared<redis::client>(*redis::parse_url(server_.url()));
  }

  nlohmann::json migrate(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"migrate-keys", "--redis", server_.url()};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = test::run_cli(args);
    EXPECT_EQ(r.code, 0) << r.err;
    return r.code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json();
  }

  void raw(std::vector<std::string> argv) {
    auto r = redis_->command(argv);
    ASSERT_TRUE(r.has_value()) << r.error().message;
  }
  std::int64_t exists(const std::string& key) {
    return redis_->command({"EXISTS", key})->integer;
  }

  // A task record as the old retry store wrote it (the same fields as today).
  void legacy_task(const std::string& event, const std::string& endpoint,
                   std::vector<std::string> extra = {}) {
    std::vector<std::string> hset{"HSET", keys::legacy::retry_task(event + ":" + endpoint),
                                  "event_id", event, "endpoint_id", endpoint, "business_id",
                                  "biz_1", "event_type", "client.created", "body", "{}",
                                  "attempts", "1"};
    hset.insert(hset.end(), extra.begin(), extra.end());
    raw(hset);
    raw({"PEXPIRE", keys::legacy::retry_task(event + ":" + endpoint), "600000"});
  }

  // The old layout: two plain tasks (one due, one claimed), one due member whose record
  // expired, and an ordered endpoint whose head is due and one event waits behind it.
  void write_legacy_layout() {
    legacy_task("evt_1", "we_a");
    raw({"ZADD", std::string(keys::legacy::retry_due), "1000", "evt_1:we_a"});
    legacy_task("evt_2", "we_b");
    raw({"ZADD", std::string(keys::legacy::retry_claimed), "2000", "evt_2:we_b"});
    raw({"ZADD", std::string(keys::legacy::retry_due), "1500", "evt_gone:we_a"});

    raw({"ZADD", std::string(keys::endpoints_all), "0", "we_o", "0", "we_a", "0", "we_b"});
    const std::string tag = keys::legacy::ordered_tag("we_o");
    legacy_task("evt_10", "we_o", {"sequence", "1", "resource", "apt_1"});
    raw({"ZADD", std::string(keys::legacy::retry_due), "1200", "evt_10:we_o"});
    legacy_task("evt_11", "we_o", {"sequence", "2", "resource", "apt_1", "queued_at", "1300"});
    raw({"HSET", tag + "r:apt_1", "last", "2", "head", "evt_10", "head_seq", "1"});
    raw({"RPUSH", tag + "w:apt_1", "evt_11:we_o"});
    raw({"SET", tag + "e:evt_10", "1"});
    raw({"SET", tag + "e:evt_11", "2"});
    raw({"HSET", tag + "backlog", "waiting", "1"});
    raw({"ZADD", tag + "oldest", "1300", "apt_1"});
    raw({"SADD", tag + "resources", "apt_1"});
  }

  std::int64_t endpoint_tasks(const std::string& endpoint, std::size_t shards) {
    return redis_->command({"SCARD", keys::retry_endpoint_tasks(keys::retry_shard(endpoint, shards),
                                                                endpoint)})
        ->integer;
  }

  test::redis_server server_;
  std::shared_ptr<redis::client> redis_;
};

TEST_F(MigrateKeysTest, MovesTheSingleNodeLayoutToShards) {
  write_legacy_layout();
  auto out = migrate();
  EXPECT_EQ(out["retry_shards"], 16);
  EXPECT_EQ(out["previous_retry_shards"], nullptr);
  EXPECT_EQ(out["tasks_moved"], 5);  // four records and the expired member

  // Nothing of the old layout is left.
  EXPECT_EQ(exists(std::string(keys::legacy::retry_due)), 0);
  EXPECT_EQ(exists(std::string(keys::legacy::retry_claimed)), 0);
  for (const char* id : {"evt_1:we_a", "evt_2:we_b", "evt_10:we_o", "evt_11:we_o"}) {
    EXPECT_EQ(exists(keys::legacy::retry_task(id)), 0) << id;
  }
  const std::string old_tag = keys::legacy::ordered_tag("we_o");
  for (const char* k : {"r:apt_1", "w:apt_1", "e:evt_10", "e:evt_11", "backlog", "oldest",
                        "resources"}) {
    EXPECT_EQ(exists(old_tag + k), 0) << k;
  }
  EXPECT_EQ(redis_->command({"GET", keys::retry_shard_count})->str, "16");

  // The new layout: scores and TTLs kept, indexes built.
  const std::size_t a = keys::retry_shard("we_a", 16), b = keys::retry_shard("we_b", 16);
  EXPECT_EQ(redis_->command({"ZSCORE", keys::retry_due(a), "evt_1:we_a"})->str, "1000");
  EXPECT_EQ(redis_->command({"ZSCORE", keys::retry_claimed(b), "evt_2:we_b"})->str, "2000");
  EXPECT_GT(redis_->command({"PTTL", keys::retry_task(a, "evt_1:we_a")})->integer, 0);
  EXPECT_TRUE(redis_->command({"ZSCORE", keys::retry_due(a), "evt_gone:we_a"})->is_nil());
  EXPECT_EQ(endpoint_tasks("we_a", 16), 1);
  EXPECT_EQ(endpoint_tasks("we_b", 16), 1);
  EXPECT_EQ(endpoint_tasks("we_o", 16), 1);  // the head; the waiting event is not scheduled

  // The dispatcher's own code reads it: the ordered backlog, the claim, the release that
  // hands the head over to the waiting event.
  auto backlog = redis::run(*redis_, ordered::backlog_commands("we_o", 16));
  ASSERT_TRUE(backlog.has_value());
  EXPECT_EQ(ordered::backlog_from_replies(*backlog)->waiting, 1);
  retry::store store(redis_, {.shards = 16});
  ASSERT_TRUE(store.check_shard_count().has_value());
  const auto now = clock::time_point(5000ms);
  auto claimed = store.claim_due(now, 10, 60s);  // due: evt_1, evt_10; evt_2's lease ran out
  ASSERT_TRUE(claimed.has_value());
  ASSERT_EQ(claimed->size(), 3u);
  retry::task head;
  for (const auto& t : *claimed) {
    if (t.endpoint_id == "we_o") head = t;
  }
  ASSERT_EQ(head.event_id, "evt_10");
  EXPECT_EQ(head.sequence, 1u);
  auto release = ordered::release_op(head, 16, true, now, 24h, 60s, {"h_1"});
  auto next = redis::run(*redis_, release);
  ASSERT_TRUE(next.has_value()) << next.error().message;
  ASSERT_TRUE(next->next.has_value());
  EXPECT_EQ(next->next->event_id, "evt_11");
  EXPECT_EQ(next->next->sequence, 2u);
  // The known event is recognised in its new place: entering it again is "known".
  retry::task again = head;
  auto known = redis::single_reply(redis::run(*redis_, ordered::enter_call(again, 16, now, 24h)));
  ASSERT_TRUE(known.has_value());
  EXPECT_EQ(ordered::place_from_reply(*known)->where, ordered::state::known);
}

// Endpoints written before the registry's keys were tagged: records, counters and business
// indexes move to their new names; an endpoint indexed under the new name already is kept.
TEST_F(MigrateKeysTest, MovesTheRegistryToTaggedNames) {
  registry::store endpoints(redis_);
  const registry::endpoint_spec spec{.business_id = "biz_1",
                                     .url = "https://example.com/hook",
                                     .events = {"client.created"}};
  auto a = endpoints.create(spec);
  auto b = endpoints.create(spec);
  auto other = endpoints.create({.business_id = "biz_2",
                                 .url = "https://example.com/hook",
                                 .events = {"client.created"}});
  ASSERT_TRUE(a && b && other);
  ASSERT_TRUE(endpoints.record_failure(a->id).has_value());
  // Back to the old names, but for b: written after the upgrade, under the new ones.
  for (const auto* ep : {&*a, &*other}) {
    raw({"RENAME", keys::endpoint(ep->id), keys::legacy::endpoint(ep->id)});
    raw({"ZREM", keys::business_endpoints(ep->business_id), ep->id});
    raw({"ZADD", keys::legacy::business_endpoints(ep->business_id), "0", ep->id});
  }
  raw({"RENAME", keys::endpoint_stats(a->id), keys::legacy::endpoint_stats(a->id)});
  ASSERT_EQ(endpoints.list("biz_1")->data.size(), 1u);  // only b, before the migration

  auto out = migrate();
  EXPECT_EQ(out["registry_keys_moved"], 5);  // 2 records, 1 stats, 2 indexes
  for (const auto* ep : {&*a, &*other}) {
    EXPECT_EQ(exists(keys::legacy::endpoint(ep->id)), 0);
    EXPECT_EQ(exists(keys::legacy::business_endpoints(ep->business_id)), 0);
  }
  EXPECT_EQ(exists(keys::legacy::endpoint_stats(a->id)), 0);
  auto page = endpoints.list("biz_1");
  ASSERT_TRUE(page.has_value());
  ASSERT_EQ(page->data.size(), 2u);
  EXPECT_EQ(page->data[0].id, a->id);
  EXPECT_EQ(page->data[0].failure_count, 1);
  EXPECT_EQ(page->data[0].secret, a->secret);
  EXPECT_EQ(page->data[1].id, b->id);
  EXPECT_EQ(endpoints.list("biz_2")->data.size(), 1u);
  EXPECT_EQ(endpoints.list_all()->size(), 3u);

  EXPECT_EQ(migrate()["registry_keys_moved"], 0);
  EXPECT_EQ(endpoints.list("biz_1")->data.size(), 2u);
}

// API keys and portal sessions written before their records were tagged: the records move
// (a session keeps its TTL), the key's session set names the new records, and revoking the
// key still ends its sessions.
TEST_F(MigrateKeysTest, MovesApiKeysAndPortalSessionsToTaggedNames) {
  api::key_store api_keys(redis_);
  auto k = api_keys.create("biz_1", api::key_mode::live);
  ASSERT_TRUE(k);
  auto op = api::portal_sessions::create_op("biz_1", api::key_mode::live, k->key.id, false, 900s,
                                            clock::now());
  auto session = redis::run(*redis_, op);
  ASSERT_TRUE(session) << session.error().message;
  const std::string key_hash = api::key_hash(k->secret);
  const std::string session_hash = api::key_hash(session->token);
  // Back to the old names.
  raw({"RENAME", keys::api_key(key_hash), keys::legacy::api_key(key_hash)});
  raw({"RENAME", keys::portal_session(session_hash), keys::legacy::portal_session(session_hash)});
  const std::string of = keys::portal_sessions_of(k->key.id);
  raw({"SREM", of, keys::portal_session(session_hash)});
  raw({"SADD", of, keys::legacy::portal_session(session_hash)});

  EXPECT_EQ(migrate()["api_keys_moved"], 2);
  EXPECT_EQ(exists(keys::legacy::api_key(key_hash)), 0);
  EXPECT_EQ(exists(keys::legacy::portal_session(session_hash)), 0);
  EXPECT_EQ(redis_->command({"HGET", keys::api_key(key_hash), "business_id"})->str, "biz_1");
  EXPECT_GT(redis_->command({"TTL", keys::portal_session(session_hash)})->integer, 0);
  auto members = redis_->command({"SMEMBERS", of});
  ASSERT_EQ(members->elements.size(), 1u);
  EXPECT_EQ(members->elements[0].str, keys::portal_session(session_hash));
  EXPECT_EQ(migrate()["api_keys_moved"], 0);

  ASSERT_TRUE(api_keys.revoke(k->key.id).value());
  EXPECT_EQ(exists(keys::portal_session(session_hash)), 0) << "revoking ends its sessions";
}

TEST_F(MigrateKeysTest, ReRunningMovesNothing) {
  write_legacy_layout();
  migrate();
  auto again = migrate();
  EXPECT_EQ(again["tasks_moved"], 0);
  EXPECT_EQ(again["queue_keys_moved"], 0);
  EXPECT_EQ(again["previous_retry_shards"], 16);
  EXPECT_EQ(endpoint_tasks("we_a", 16), 1);
}

TEST_F(MigrateKeysTest, ReShardsToAnotherCount) {
  write_legacy_layout();
  migrate();
  // The waiting event's body, as this version's enter keeps it (its record has none).
  const std::string body16 = keys::ordered_body(keys::retry_shard("we_o", 16), "we_o", "evt_11");
  const std::string body3 = keys::ordered_body(keys::retry_shard("we_o", 3), "we_o", "evt_11");
  ASSERT_NE(body16, body3);
  raw({"SET", body16, "body of evt_11", "PX", "600000"});
  auto out = migrate({"--retry-shards", "3"});
  EXPECT_EQ(exists(body16), 0);
  EXPECT_EQ(redis_->command({"GET", body3})->str, "body of evt_11");
  EXPECT_GT(redis_->command({"PTTL", body3})->integer, 0);
  EXPECT_EQ(out["retry_shards"], 3);
  EXPECT_EQ(out["previous_retry_shards"], 16);
  EXPECT_EQ(redis_->command({"GET", keys::retry_shard_count})->str, "3");
  for (std::size_t n = 0; n < 16; ++n) {
    // Whatever is left in a 16-shard set is in the shard it has under 3 as well.
    auto left = redis_->command({"ZRANGE", keys::retry_due(n), "0", "-1"});
    for (const auto& id : left->elements) EXPECT_EQ(keys::task_shard(id.str, 3), n) << id.str;
  }
  retry::store store(redis_, {.shards = 3});
  ASSERT_TRUE(store.check_shard_count().has_value());
  EXPECT_FALSE(retry::store(redis_, {.shards = 16}).check_shard_count().has_value());
  auto backlog = store.backlog();
  ASSERT_TRUE(backlog.has_value());
  EXPECT_EQ(backlog->scheduled, 2);
  EXPECT_EQ(backlog->claimed, 1);
  EXPECT_EQ(endpoint_tasks("we_o", 3), 1);
  auto waiting = redis::run(*redis_, ordered::backlog_commands("we_o", 3));
  EXPECT_EQ(ordered::backlog_from_replies(*waiting)->waiting, 1);
  EXPECT_EQ(redis_->command({"LLEN", keys::ordered_waiting(keys::retry_shard("we_o", 3), "we_o",
                                                           "apt_1")})
                ->integer,
            1);

  // And back. we_m84 is in shard 0 of 3 and shard 2 of 16: moved into a set looked at later,
  // where it must stay (not be moved again, and again).
  ASSERT_EQ(keys::retry_shard("we_m84", 3), 0u);
  ASSERT_EQ(keys::retry_shard("we_m84", 16), 2u);
  retry::task late;
  late.event_id = "evt_20";
  late.endpoint_id = "we_m84";
  ASSERT_TRUE(store.schedule(late, clock::time_point(1000ms)).has_value());
  auto back = migrate({"--retry-shards", "16"});
  EXPECT_EQ(back["previous_retry_shards"], 3);
  retry::store sixteen(redis_, {.shards = 16});
  EXPECT_EQ(sixteen.backlog()->scheduled, 3);
  EXPECT_EQ(sixteen.backlog()->claimed, 1);
  for (std::size_t n = 0; n < 16; ++n) {
    for (const char* set : {"due", "claimed"}) {
      const auto key = std::string(set) == "due" ? keys::retry_due(n) : keys::retry_claimed(n);
      auto members = redis_->command({"ZRANGE", key, "0", "-1"});
      ASSERT_TRUE(members.has_value());
      for (const auto& id : members->elements) {
        EXPECT_EQ(keys::task_shard(id.str, 16), n) << id.str;
        EXPECT_EQ(exists(keys::retry_task(n, id.str)), 1) << id.str;
      }
    }
  }
  EXPECT_EQ(sixteen.claim_due(clock::time_point(5000ms), 10, 60s)->size(), 4u);
}

// A head a release leased to an instance is on no schedule, only named in its resource: a
// re-shard moves its record with its queue and makes it due (every instance is stopped).
TEST_F(MigrateKeysTest, ReShardingMakesALeasedHeadDue) {
  write_legacy_layout();
  migrate();
  retry::store store(redis_, {.shards = 16});
  const auto now = clock::time_point(5000ms);
  auto claimed = store.claim_due(now, 10, 60s);
  ASSERT_TRUE(claimed.has_value());
  retry::task head;
  for (const auto& t : *claimed) {
    if (t.endpoint_id == "we_o") head = t;
  }
  ASSERT_EQ(head.event_id, "evt_10");
  auto release = ordered::release_op(head, 16, true, now, 24h, 60s, {"h_1"});
  auto next = redis::run(*redis_, release);
  ASSERT_TRUE(next.has_value() && next->next.has_value());
  ASSERT_EQ(next->next->event_id, "evt_11");
  const std::size_t from = keys::retry_shard("we_o", 16), to = keys::retry_shard("we_o", 3);
  ASSERT_NE(from, to);
  ASSERT_EQ(redis_->command({"HGET", keys::ordered_sequence(from, "we_o", "apt_1"), "holder"})->str,
            "h_1");
  ASSERT_EQ(endpoint_tasks("we_o", 16), 0);  // leased: on no schedule

  migrate({"--retry-shards", "3"});
  EXPECT_EQ(exists(keys::retry_task(from, "evt_11:we_o")), 0);
  EXPECT_EQ(exists(keys::retry_task(to, "evt_11:we_o")), 1);
  EXPECT_FALSE(redis_->command({"ZSCORE", keys::retry_due(to), "evt_11:we_o"})->is_nil());
  EXPECT_TRUE(
      redis_->command({"HGET", keys::ordered_sequence(to, "we_o", "apt_1"), "holder"})->is_nil());
  EXPECT_EQ(redis_->command({"HGET", keys::ordered_sequence(to, "we_o", "apt_1"), "head"})->str,
            "evt_11");
  EXPECT_EQ(endpoint_tasks("we_o", 3), 1);
  retry::store three(redis_, {.shards = 3});
  auto due = three.claim_due(clock::now(), 10, 60s);
  ASSERT_TRUE(due.has_value());
  bool found = false;
  for (const auto& t : *due) found = found || t.id() == "evt_11:we_o";
  EXPECT_TRUE(found) << "the leased head was not delivered after the re-shard";
}

TEST_F(MigrateKeysTest, RejectsAShardCountOutOfRange) {
  for (const char* n : {"0", "1025", "x"}) {
    auto r = test::run_cli({"migrate-keys", "--redis", server_.url(), "--retry-shards", n});
    EXPECT_EQ(r.code, 2) << n;
  }
}

}  // namespace
}  // namespace tresse::dispatcher
