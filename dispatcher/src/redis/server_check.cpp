#include "redis/server_check.hpp"

#include <algorithm>

namespace tresse::dispatcher::redis {

std::optional<std::string> info_field(std::string_view info, std::string_view field) {
  std::size_t pos = 0;
  while (pos < info.size()) {
    auto end = info.find('\n', pos);
    if (end == std::string_view::npos) end = info.size();
    std::string_view line = info.substr(pos, end - pos);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.size() > field.size() && line.starts_with(field) && line[field.size()] == ':') {
      return std::string(line.substr(field.size() + 1));
    }
    pos = end + 1;
  }
  return std::nullopt;
}

safety assess(const server_facts& facts) {
  safety s;
  if (!facts.maxmemory_policy) {
    s.warnings.emplace_back(
        "Redis did not report its maxmemory-policy: make sure it is noeviction, or evicted keys "
        "silently drop scheduled retries");
  } else if (*facts.maxmemory_policy != "noeviction") {
    s.errors.push_back(
        "Redis maxmemory-policy is " + *facts.maxmemory_policy +
        ", not noeviction: under memory pressure Redis would evict keys, silently dropping "
        "scheduled retries (whose Kafka offsets are already committed) and endpoints; set "
        "`maxmemory-policy noeviction` (CONFIG SET maxmemory-policy noeviction, and in "
        "redis.conf)");
  }
  const bool aof = facts.aof_enabled.value_or(false);
  const bool rdb = facts.rdb_enabled.value_or(false);
  if (!aof && !rdb) {
    if (facts.aof_enabled && facts.rdb_enabled) {
      s.warnings.emplace_back(
          "Redis persists nothing (neither AOF nor RDB snapshots): a Redis restart loses the "
          "retry schedule and the endpoints; turn on `appendonly yes` (or RDB `save` points)");
    } else {
      s.warnings.emplace_back(
          "could not tell whether Redis persists its data (AOF or RDB): without it a Redis "
          "restart loses the retry schedule and the endpoints");
    }
  }
  return s;
}

result<role> read_role(client& c) {
  auto r = c.command({"ROLE"});
  if (!r) return std::unexpected(r.error());
  return parse_role(*r);
}

cluster_facts cluster_facts_of(const slot_map& map) {
  cluster_facts f;
  std::vector<cluster_node> primaries;
  bool first = true;
  for (const auto& r : map.ranges()) {
    f.slots_served += static_cast<std::size_t>(r.last - r.first) + 1;
    if (std::ranges::find(primaries, r.primary) == primaries.end()) primaries.push_back(r.primary);
    f.fewest_replicas = first ? r.replicas.size() : std::min(f.fewest_replicas, r.replicas.size());
    first = false;
  }
  f.primaries = primaries.size();
  return f;
}

result<cluster_facts> read_cluster_facts(client& c) {
  auto r = c.command({"CLUSTER", "SLOTS"});
  if (!r) return std::unexpected(r.error());
  auto map = slot_map::from_cluster_slots(*r);
  if (!map) return std::unexpected(map.error());
  return cluster_facts_of(*map);
}

std::string describe(const cluster_facts& f) {
  return std::to_string(f.slots_served) + " of " + std::to_string(cluster_slot_count) +
         " slots served by " + std::to_string(f.primaries) + " primar" +
         (f.primaries == 1 ? "y" : "ies") +
         (f.fewest_replicas == 0 ? ", not every one with a replica (no WAIT there)"
                                 : ", each with " + std::to_string(f.fewest_replicas) +
                                       " replica or more");
}

namespace {

result<server_facts> read_one_server(client& c) {
  server_facts f;
  auto memory = c.command({"INFO", "memory"});
  if (!memory) return std::unexpected(memory.error());
  f.maxmemory_policy = info_field(memory->str, "maxmemory_policy");
  auto persistence = c.command({"INFO", "persistence"});
  if (!persistence) return std::unexpected(persistence.error());
  if (auto aof = info_field(persistence->str, "aof_enabled")) f.aof_enabled = *aof == "1";
  // RDB is on when any save point is configured; CONFIG may be renamed or refused (managed
  // Redis), which leaves it unknown rather than failing the start.
  auto save = c.command({"CONFIG", "GET", "save"});
  if (!save && save.error().kind == error_kind::transient) return std::unexpected(save.error());
  if (save && save->elements.size() == 2) {
    f.rdb_enabled = save->elements[1].str.find_first_not_of(' ') != std::string::npos;
  }
  return f;
}

// The worst of two servers' facts: an evicting policy wins, persistence only when both have it.
void merge(server_facts& all, const server_facts& one) {
  if (!all.maxmemory_policy || (one.maxmemory_policy && *one.maxmemory_policy != "noeviction")) {
    all.maxmemory_policy = one.maxmemory_policy;
  }
  const auto both = [](std::optional<bool>& a, const std::optional<bool>& b) {
    a = a && b ? std::optional<bool>(*a && *b) : std::nullopt;
  };
  both(all.aof_enabled, one.aof_enabled);
  both(all.rdb_enabled, one.rdb_enabled);
}

}  // namespace

result<server_facts> read_server_facts(client& c) {
  if (c.config().cluster_nodes.empty()) return read_one_server(c);
  // A cluster: every primary holds part of the state, so each must be safe.
  auto slots = c.command({"CLUSTER", "SLOTS"});
  if (!slots) return std::unexpected(slots.error());
  auto map = slot_map::from_cluster_slots(*slots);
  if (!map) return std::unexpected(map.error());
  std::optional<server_facts> all;
  std::vector<cluster_node> asked;
  for (const auto& r : map->ranges()) {
    if (std::ranges::find(asked, r.primary) != asked.end()) continue;
    asked.push_back(r.primary);
    options o = c.config();
    o.cluster_nodes.clear();
    o.host = r.primary.host;
    o.port = r.primary.port;
    o.pool_size = 1;
    client node(o);
    auto f = read_one_server(node);
    if (!f) return std::unexpected(f.error());
    if (all) merge(*all, *f);
    else all = *f;
  }
  if (!all) return fail(error_kind::transient, "redis cluster: no primary serves a slot yet");
  return *all;
}

}  // namespace tresse::dispatcher::redis
