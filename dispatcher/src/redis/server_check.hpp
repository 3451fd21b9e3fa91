// Checks, at start, that a Redis server is safe to keep the dispatcher's state in.
//
//   auto facts = redis::read_server_facts(client);          // INFO memory/persistence, CONFIG GET
//   save redis::safety s = redis::assess(*facts); for (auto& e : s.errors) { /* refuse to start */
//   } for (auto& w : s.warnings) { /* log */ }
//
// Why: the retry schedule, the claimed retries and the endpoint registry live in Redis and
// nowhere else. A Redis that evicts keys under memory pressure (any maxmemory-policy but
// noeviction) silently drops scheduled retries, whose Kafka offsets are already committed: those
// deliveries are lost without a trace. So the dispatcher refuses such a Redis. A Redis with
// neither AOF nor RDB persistence loses the same state on its own restart; that may be a
// deliberate choice (a replica persists, a test), so it is only a warning.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redis/client.hpp"
#include "redis/cluster_slots.hpp"
#include "redis/sentinel.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::redis {

// What the server said; nullopt where it did not say (an older Redis, CONFIG disabled).
struct server_facts {
  std::optional<std::string> maxmemory_policy;  // INFO memory: maxmemory_policy
  std::optional<bool> aof_enabled;              // INFO persistence: aof_enabled
  std::optional<bool> rdb_enabled;              // CONFIG GET save: any save point
};

struct safety {
  std::vector<std::string> errors;    // refuse this Redis
  std::vector<std::string> warnings;  // start, but say so
};

// Pure: the verdict on `facts`. An eviction policy other than noeviction is an error; neither
// AOF nor RDB on is a warning, and so is a fact the server did not tell.
safety assess(const server_facts& facts);

// Reads the facts from `client` (INFO memory, INFO persistence, CONFIG GET save). A transient
// error when Redis is unreachable; a CONFIG refused by the server (managed Redis) only leaves
// rdb_enabled unknown. On a Redis Cluster: from every primary, the worst of them (an evicting
// policy if any has one, persistence only if all have it).
result<server_facts> read_server_facts(client& c);

// ROLE on the server `c` talks to (redis/sentinel.hpp: parse_role).
result<role> read_role(client& c);

// A Redis Cluster as CLUSTER SLOTS shows it (redis+cluster://).
struct cluster_facts {
  std::size_t slots_served = 0;     // of cluster_slot_count; fewer: some keys have no home
  std::size_t primaries = 0;        // serving slots
  std::size_t fewest_replicas = 0;  // of the least replicated primary (WAIT auto waits for 1)
};

// Pure: the facts in a slot map.
cluster_facts cluster_facts_of(const slot_map& map);
// CLUSTER SLOTS through `c` (a cluster client asks one of its nodes).
result<cluster_facts> read_cluster_facts(client& c);
// "16384 of 16384 slots served by 3 primaries, each with 1 replica or more", for logs and
// run --check.
std::string describe(const cluster_facts& f);

// Fields of an INFO reply ("key:value" lines); nullopt when `field` is absent.
std::optional<std::string> info_field(std::string_view info, std::string_view field);

}  // namespace tresse::dispatcher::redis
