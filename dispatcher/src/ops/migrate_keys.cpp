// `tresse-dispatcher migrate-keys [--redis URL] [--retry-shards N]`: moves the retry schedule,
// the ordered queues and the endpoint registry's records, counters and business indexes to the
// layout of redis/keys.hpp: from the single-node layout before it (keys::legacy), and from
// another shard count (the one recorded in keys::retry_shard_count) to N (default: the recorded
// count, else keys::default_retry_shards). Then records N.
//
// Run it with every dispatcher stopped, on the single Redis (or primary) they used: it moves
// keys one task, one resource at a time, each move atomic, and is safe to re-run after a crash
// or to run twice (what is already in place is skipped). Nothing is found by SCAN: tasks through
// the schedule's sets, ordered queues through the registry's endpoint index and each endpoint's
// resource index. The per-event sequence numbers of events already settled are left to their
// TTL (30 d): only a Kafka redelivery of such an event would read them, and a dispatcher that
// stopped cleanly has committed its offsets.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "delivery/ordered_queue.hpp"
#include "ops/commands.hpp"
#include "ops/connect.hpp"
#include "ops/output.hpp"
#include "redis/client.hpp"
#include "redis/keys.hpp"
#include "redis/request.hpp"
#include "retry/store.hpp"
#include "tresse/cli/program.hpp"

namespace tresse::dispatcher::ops {
namespace {

namespace keys = redis::keys;

struct migrate_flags {
  store_flags store;
  std::size_t shards = 0;  // 0: the recorded count
};

// Where one layout keeps an endpoint's tasks and ordered queues.
struct home {
  std::string task_prefix, due, claimed, index, ordered;  // index empty: the layout has none
  bool operator==(const home&) const = default;
};

// A layout: the legacy one (shards == 0) or `shards` shards.
home home_of(std::size_t shards, const std::string& endpoint) {
  if (shards == 0) {
    return {keys::legacy::retry_task(""), std::string(keys::legacy::retry_due),
            std::string(keys::legacy::retry_claimed), "", keys::legacy::ordered_tag(endpoint)};
  }
  const std::size_t n = keys::retry_shard(endpoint, shards);
  return {keys::retry_task_prefix(n), keys::retry_due(n), keys::retry_claimed(n),
          keys::retry_endpoint_tasks(n, endpoint), keys::ordered_tag(n, endpoint)};
}

// KEYS: old record, new record, old due, old claimed, new due, new claimed, new index, old
// index. ARGV: task id, index ttl ms, "1" when there is an old index.
// The record moves unless the new one exists already (then the old is dropped); its scores
// follow it. Returns 1.
const redis::script& move_task_script() {
  static const redis::script s(R"lua(
local due = redis.call('ZSCORE', KEYS[3], ARGV[1])
local claimed = redis.call('ZSCORE', KEYS[4], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('EXISTS', KEYS[2]) == 0 then
    redis.call('RENAME', KEYS[1], KEYS[2])
  else
    redis.call('DEL', KEYS[1])
  end
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  if due then redis.call('ZADD', KEYS[5], due, ARGV[1]) end
  if claimed then redis.call('ZADD', KEYS[6], claimed, ARGV[1]) end
  if due or claimed then
    redis.call('SADD', KEYS[7], ARGV[1])
    redis.call('PEXPIRE', KEYS[7], ARGV[2])
  end
end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
if ARGV[3] == '1' then redis.call('SREM', KEYS[8], ARGV[1]) end
return 1
)lua");
  return s;
}

// KEYS: old, new. Renames unless the new key exists (then the old is dropped: what a dispatcher
// wrote under the new name wins). Returns 1 when the old key existed.
const redis::script& move_key_script() {
  static const redis::script s(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('RENAME', KEYS[1], KEYS[2])
else
  redis.call('DEL', KEYS[1])
end
return 1
)lua");
  return s;
}

// KEYS: old index, new index (zsets). Merges the old into the new (a dispatcher may have
// indexed an endpoint under the new name already) and drops the old. Returns 1 when the old
// existed.
const redis::script& merge_index_script() {
  static const redis::script s(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('ZUNIONSTORE', KEYS[2], 2, KEYS[2], KEYS[1], 'AGGREGATE', 'MIN')
redis.call('DEL', KEYS[1])
return 1
)lua");
  return s;
}

class migration {
 public:
  migration(redis::client& redis, std::size_t shards) : redis_(redis), shard_count_(shards) {}

  // Moves every task of the schedule in layout `from` (home_of's `shards`) that lives
  // elsewhere in the new one.
  status move_schedule(std::size_t from) {
    // A layout's sets: the legacy one has one pair, a sharded one a pair per shard.
    const std::size_t sets = from == 0 ? 1 : from;
    for (std::size_t n = 0; n < sets; ++n) {
      const std::string due = from == 0 ? std::string(keys::legacy::retry_due) : keys::retry_due(n);
      const std::string claimed =
          from == 0 ? std::string(keys::legacy::retry_claimed) : keys::retry_claimed(n);
      for (const auto& set : {due, claimed}) {
        if (auto st = move_set(set, from); !st) return st;
      }
    }
    return {};
  }

  // Moves the ordered queues of every endpoint in the registry from layout `from`.
  status move_ordered(std::size_t from) {
    auto ids = redis_.command({"ZRANGE", keys::endpoints_all, "0", "-1"});
    if (!ids) return std::unexpected(ids.error());
    for (const auto& id : ids->elements) {
      if (auto st = move_endpoint_queues(id.str, from); !st) return st;
    }
    return {};
  }

  // Gives each open circuit its endpoint's own copy of open_until (keys::breaker_open_until),
  // which the probe lease reads; ZADD GT keeps a later value a dispatcher wrote.
  status copy_open_circuits() {
    auto open = redis_.command({"ZRANGE", keys::breakers_open, "0", "-1", "WITHSCORES"});
    if (!open) return std::unexpected(open.error());
    redis::command_list copies;
    const auto& e = open->elements;
    for (std::size_t i = 0; i + 1 < e.size(); i += 2) {
      copies.add({"ZADD", keys::breaker_open_until(e[i].str), "GT", e[i + 1].str, "until"});
    }
    if (copies.empty()) return {};
    circuits = copies.size();
    return redis_.pipeline_ok(copies);
  }

  // The registry's keys, from their names before they were tagged (keys::legacy): each
  // endpoint's record and counters, found through the global index (never renamed), then the
  // indexes of the businesses those records name.
  status move_registry() {
    auto ids = redis_.command({"ZRANGE", keys::endpoints_all, "0", "-1"});
    if (!ids) return std::unexpected(ids.error());
    std::set<std::string> businesses;
    for (const auto& id : ids->elements) {
      const std::string& e = id.str;
      // The record, then its counters.
      for (const auto& [from, to] : {std::pair{keys::legacy::endpoint(e), keys::endpoint(e)},
                                     std::pair{keys::legacy::endpoint_stats(e),
                                               keys::endpoint_stats(e)}}) {
        if (auto st = move_key(from, to, registry_keys); !st) return st;
      }
      auto record = redis_.command({"GET", keys::endpoint(e)});
      if (!record) return std::unexpected(record.error());
      if (record->is_nil()) continue;
      // business_id is in clear even when the secrets are sealed.
      auto j = nlohmann::json::parse(record->str, nullptr, false);
      if (j.is_object() && j.contains("business_id") && j["business_id"].is_string()) {
        businesses.insert(j["business_id"].get<std::string>());
      }
    }
    for (const auto& b : businesses) {
      auto r = redis_.eval(merge_index_script(),
                           {keys::legacy::business_endpoints(b), keys::business_endpoints(b)}, {});
      if (!r) return std::unexpected(r.error());
      registry_keys += static_cast<std::size_t>(r->integer);
    }
    return {};
  }

  // API keys' records and portal sessions' (keys::legacy), found through the key index and
  // each key's session set, whose members (record names) are renamed with them.
  status move_api_keys() {
    auto ids = redis_.command({"ZRANGE", keys::api_keys_all, "0", "-1"});
    if (!ids) return std::unexpected(ids.error());
    const std::string old_session = keys::legacy::portal_session("");
    for (const auto& id : ids->elements) {
      auto hash = redis_.command({"GET", keys::api_key_id(id.str)});
      if (!hash) return std::unexpected(hash.error());
      if (!hash->is_nil()) {
        const std::string& h = hash->str;
        if (auto st = move_key(keys::legacy::api_key(h), keys::api_key(h), api_keys); !st) {
          return st;
        }
      }
      const std::string of = keys::portal_sessions_of(id.str);
      auto sessions = redis_.command({"SMEMBERS", of});
      if (!sessions) return std::unexpected(sessions.error());
      for (const auto& m : sessions->elements) {
        if (!m.str.starts_with(old_session) || m.str.find('{') != std::string::npos) continue;
        const std::string renamed = keys::portal_session(m.str.substr(old_session.size()));
        if (auto st = move_key(m.str, renamed, api_keys); !st) return st;
        if (auto st = redis_.pipeline_ok({{"SADD", of, renamed}, {"SREM", of, m.str}}); !st) {
          return st;
        }
      }
    }
    return {};
  }

  std::size_t tasks = 0, queue_keys = 0, circuits = 0, registry_keys = 0, api_keys = 0;

 private:
  // Members are removed as they move; those already in place stay, and are skipped by offset.
  status move_set(const std::string& set, std::size_t from) {
    std::size_t in_place = 0;
    for (;;) {
      auto page = redis_.command({"ZRANGE", set, std::to_string(in_place),
                                  std::to_string(in_place + batch - 1)});
      if (!page) return std::unexpected(page.error());
      if (page->elements.empty()) return {};
      for (const auto& member : page->elements) {
        const std::string& id = member.str;
        const std::string endpoint(keys::task_endpoint(id));
        const home old_home = home_of(from, endpoint), new_home = home_of(shard_count_, endpoint);
        // In place: its shard is the same in both layouts, or it was moved here already from a
        // shard looked at before (the two layouts share the names of their first shards).
        if (old_home == new_home || new_home.due == set || new_home.claimed == set) {
          ++in_place;
          continue;
        }
        if (auto st = move_task(id, old_home, new_home); !st) return st;
      }
    }
  }

  status move_task(const std::string& id, const home& from, const home& to) {
    const std::string ttl = std::to_string(retry::store_options{}.task_ttl.count());
    const bool old_index = !from.index.empty();
    auto r = redis_.eval(move_task_script(),
                         {from.task_prefix + id, to.task_prefix + id, from.due, from.claimed, to.due,
                          to.claimed, to.index, old_index ? from.index : to.index},
                         {id, ttl, old_index ? "1" : "0"});
    if (!r) return std::unexpected(r.error());
    ++tasks;
    return {};
  }

  status move_key(const std::string& from, const std::string& to, std::size_t& moved) {
    auto r = redis_.eval(move_key_script(), {from, to}, {});
    if (!r) return std::unexpected(r.error());
    moved += static_cast<std::size_t>(r->integer);
    return {};
  }

  status move_endpoint_queues(const std::string& endpoint, std::size_t from) {
    const home old_home = home_of(from, endpoint), new_home = home_of(shard_count_, endpoint);
    if (old_home.ordered == new_home.ordered) return {};
    const std::string& a = old_home.ordered;
    const std::string& b = new_home.ordered;
    auto resources = redis_.command({"SMEMBERS", a + "resources"});
    if (!resources) return std::unexpected(resources.error());
    for (const auto& res : resources->elements) {
      const std::string& r = res.str;
      // The waiting events' records, then their numbers and the head's, then the queue itself.
      auto waiting = redis_.command({"LRANGE", a + "w:" + r, "0", "-1"});
      if (!waiting) return std::unexpected(waiting.error());
      std::vector<std::string> events;
      for (const auto& task : waiting->elements) {
        if (auto st = move_task(task.str, old_home, new_home); !st) return st;
        const auto colon = task.str.rfind(':');
        if (colon != std::string::npos) events.push_back(task.str.substr(0, colon));
      }
      auto head = redis_.command({"HMGET", a + "r:" + r, "head", "holder"});
      if (!head) return std::unexpected(head.error());
      const bool has_head = head->elements.size() == 2 && !head->elements[0].is_nil();
      if (has_head) events.push_back(head->elements[0].str);
      // A head a release leased to an instance (stopped now) is on no schedule: its record
      // moves here, and it is made due below.
      const bool held = has_head && !head->elements[1].is_nil();
      if (held) {
        const std::string id = retry::task_id(head->elements[0].str, endpoint);
        if (auto st = move_task(id, old_home, new_home); !st) return st;
      }
      // Each event's number and body (a layout before bodies moved out of the records has none).
      for (const auto& e : events) {
        for (const char* part : {"e:", "b:"}) {
          if (auto st = move_key(a + part + e, b + part + e, queue_keys); !st) return st;
        }
      }
      for (const char* part : {"w:", "r:"}) {
        if (auto st = move_key(a + part + r, b + part + r, queue_keys); !st) return st;
      }
      if (held) {
        const auto due = redis::run(
            redis_, ordered::recover_heads_call(
                        keys::retry_shard(endpoint, shard_count_), endpoint,
                        head->elements[1].str, {{r, head->elements[0].str}},
                        retry::clock::now(), retry::store_options{}.task_ttl));
        if (auto st = redis::status_of(due); !st) return st;
      }
    }
    // The index last: a re-run after a crash still finds the resources it names.
    for (const char* k : {"backlog", "oldest", "resources"}) {
      if (auto st = move_key(a + k, b + k, queue_keys); !st) return st;
    }
    return {};
  }

  static constexpr std::size_t batch = 500;
  redis::client& redis_;
  std::size_t shard_count_;  // the layout moved to
};

int migrate_keys(const migrate_flags& f) {
  std::shared_ptr<redis::client> redis = redis_client(f.store);
  auto recorded = redis->command({"GET", keys::retry_shard_count});
  if (!recorded) return action_error(recorded.error());
  // 0: nothing recorded, the schedule was never sharded.
  const std::size_t was = recorded->is_nil() ? 0 : std::strtoull(recorded->str.c_str(), nullptr, 10);
  if (!recorded->is_nil() && (was < 1 || was > keys::max_retry_shards)) {
    return print_error(1, "invalid_state",
                       "Redis holds a bad " + std::string(keys::retry_shard_count));
  }
  const std::size_t shards = f.shards > 0 ? f.shards : was > 0 ? was : keys::default_retry_shards;

  migration m(*redis, shards);
  if (auto st = m.move_registry(); !st) return action_error(st.error());
  if (auto st = m.move_api_keys(); !st) return action_error(st.error());
  // The legacy layout always (nothing to do once it is moved), then the previous shard count.
  std::vector<std::size_t> from{0};
  if (was > 0 && was != shards) from.push_back(was);
  for (std::size_t layout : from) {
    if (auto st = m.move_schedule(layout); !st) return action_error(st.error());
    if (auto st = m.move_ordered(layout); !st) return action_error(st.error());
  }
  if (auto st = m.copy_open_circuits(); !st) return action_error(st.error());
  auto set = redis->command({"SET", keys::retry_shard_count, std::to_string(shards)});
  if (!set) return action_error(set.error());
  return print({{"retry_shards", shards},
                {"previous_retry_shards", was > 0 ? nlohmann::json(was) : nlohmann::json(nullptr)},
                {"tasks_moved", m.tasks},
                {"queue_keys_moved", m.queue_keys},
                {"registry_keys_moved", m.registry_keys},
                {"api_keys_moved", m.api_keys},
                {"open_circuits", m.circuits}});
}

}  // namespace

void add_migrate_keys_command(tresse::cli::program& p) {
  auto f = std::make_shared<migrate_flags>();
  CLI::App& cmd = p.command(p.app(), "migrate-keys",
                            "move the retry schedule, ordered queues and registry to this "
                            "version's layout",
                            [f] { return migrate_keys(*f); });
  cmd.footer(
      "Moves an existing deployment's retry tasks and ordered queues to the sharded layout\n"
      "(tresse:{rs<n>}:..., redis/keys.hpp), or to another retry.shards, and its endpoints to\n"
      "their tagged names (tresse:endpoint:{<id>}, ...). Stop every dispatcher first; safe to\n"
      "re-run.");
  cmd.add_option("--retry-shards", f->shards,
                 "the shard count to move to (retry.shards; default: the recorded one, else 16)")
      ->type_name("N")
      ->check(CLI::Range(std::size_t{1}, keys::max_retry_shards));
  add_redis_flag(cmd, f->store);
}

}  // namespace tresse::dispatcher::ops
