#include "redis/server_check.hpp"

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

result<server_facts> read_server_facts(client& c) {
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

}  // namespace tresse::dispatcher::redis
