// The key layout (redis/keys.hpp) against Redis Cluster's rule: the keys one Lua script or one
// MULTI touches must be in one slot. Each group below is the set of key functions one script or
// transaction uses together (the scripts' own tests check the exact KEYS they send:
// retry/store_test, delivery/ordered_queue_test); adding a key of another tag to one of them
// should add it here, and this test then fails.
//
// The registry's and the API gate's scripts are checked on the requests their code builds (the
// KEYS they send), so a key added to one of them is checked too. The registry's indexes and
// version counter, and a client address's rate counter, are written by plain commands only.
// `migrate-keys` runs its scripts on the single Redis it moves keys from (not a cluster).
#include "redis/keys.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "api/gate.hpp"
#include "api/keys.hpp"
#include "redis/cluster_slots.hpp"
#include "registry/store.hpp"

namespace tresse::dispatcher::redis {
namespace {

void expect_one_slot(const std::vector<std::string>& group, const std::string& what) {
  ASSERT_FALSE(group.empty());
  const auto slot = key_slot(group.front());
  for (const auto& k : group) EXPECT_EQ(key_slot(k), slot) << what << ": " << k;
}

const std::vector<std::string> endpoints = {"we_1", "we_2", "we_2a5xQpLr7", "we_Z9"};

TEST(KeysTest, RetryScriptsAndCompleteTouchOneSlot) {
  for (std::size_t shards : {std::size_t{1}, std::size_t{16}, std::size_t{1024}}) {
    for (const auto& ep : endpoints) {
      const std::size_t n = keys::retry_shard(ep, shards);
      ASSERT_LT(n, shards);
      const std::string task = "evt_1:" + ep;
      EXPECT_EQ(keys::task_shard(task, shards), n);
      // schedule / reschedule / schedule_now, and complete's MULTI.
      expect_one_slot({keys::retry_task(n, task), keys::retry_due(n), keys::retry_claimed(n),
                       keys::retry_endpoint_tasks(n, ep)},
                      "schedule");
      // claim: the sets, and the record and index keys it builds from prefixes.
      expect_one_slot({keys::retry_due(n), keys::retry_claimed(n), keys::retry_task_prefix(n) + task,
                       keys::retry_endpoint_tasks(n, "") + ep},
                      "claim");
    }
  }
}

TEST(KeysTest, OrderedScriptsTouchTheirEndpointsRetryShard) {
  for (const auto& ep : endpoints) {
    const std::size_t n = keys::retry_shard(ep, keys::default_retry_shards);
    const std::string task = "evt_1:" + ep;
    // place (enter / requeue), release, purge and the body read, with the keys they build
    // from prefixes.
    expect_one_slot({keys::ordered_sequence(n, ep, "apt_1"), keys::ordered_waiting(n, ep, "apt_1"),
                     keys::ordered_event(n, ep, "evt_1"), keys::ordered_body(n, ep, "evt_1"),
                     keys::ordered_body(n, ep, "") + "evt_2", keys::ordered_backlog(n, ep),
                     keys::ordered_oldest(n, ep), keys::ordered_resources(n, ep),
                     keys::ordered_tag(n, ep) + "w:apt_2", keys::ordered_tag(n, ep) + "r:apt_2",
                     keys::retry_task(n, task), keys::retry_task_prefix(n) + "evt_2:" + ep,
                     keys::retry_due(n), keys::retry_claimed(n), keys::retry_endpoint_tasks(n, ep)},
                    "ordered " + ep);
  }
}

TEST(KeysTest, BreakerLeaseTouchesOneSlot) {
  for (const auto& ep : endpoints) {
    expect_one_slot({keys::breaker_open_until(ep), keys::breaker_probe(ep)}, "lease " + ep);
  }
}

TEST(KeysTest, RegistryScriptsTouchTheirEndpointsSlot) {
  const registry::store store(nullptr);
  for (const auto& ep : endpoints) {
    expect_one_slot(store.record_failure_call(ep).keys, "record_failure " + ep);
    expect_one_slot(registry::store::record_dead_letter_call(ep, true).keys, "dead letter " + ep);
    expect_one_slot(registry::store::record_success_call(ep).keys, "record_success " + ep);
    // The compare-and-set script's one key, and the counters a page reads beside it.
    expect_one_slot({keys::endpoint(ep), keys::endpoint_stats(ep)}, "record " + ep);
  }
}

TEST(KeysTest, GateAdmitScriptTouchesTheKeysSlot) {
  const auto now = std::chrono::system_clock::now();
  // As read_credentials accepts them (a portal token has 43 base62 characters).
  for (const std::string& token : {"sk_live_" + std::string(32, 'a'),
                                   "sk_test_" + std::string(32, 'Z'), "ps_" + std::string(43, 'q')}) {
    const auto c = api::read_credentials("Bearer " + token, "");
    ASSERT_NE(c.digest, "") << token;
    const auto req = api::gate::admit_request(c, now);
    ASSERT_EQ(req.keys.size(), 2u);
    expect_one_slot(req.keys, "admit " + token);
  }
}

TEST(KeysTest, RetryShardsSpreadOverSlots) {
  // Sixteen shards, sixteen slots: the schedule is not one slot (one node) in a cluster.
  std::vector<std::uint16_t> slots;
  for (std::size_t n = 0; n < keys::default_retry_shards; ++n) slots.push_back(key_slot(keys::retry_due(n)));
  std::sort(slots.begin(), slots.end());
  EXPECT_EQ(std::unique(slots.begin(), slots.end()), slots.end());
  // And endpoints spread over the shards.
  std::vector<int> per_shard(keys::default_retry_shards);
  for (int i = 0; i < 1600; ++i) ++per_shard[keys::retry_shard("we_" + std::to_string(i), 16)];
  for (int count : per_shard) EXPECT_GT(count, 50);
}

TEST(KeysTest, TaskIdsNameTheirEndpoint) {
  EXPECT_EQ(keys::task_endpoint("evt_1:we_1"), "we_1");
  EXPECT_EQ(keys::task_endpoint("we_1"), "we_1");
  EXPECT_EQ(keys::retry_shard("we_anything", 1), 0u);
}

}  // namespace
}  // namespace tresse::dispatcher::redis
