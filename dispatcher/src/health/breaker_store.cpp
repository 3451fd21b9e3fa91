#include "health/breaker_store.hpp"

#include <cstdlib>

#include "redis/keys.hpp"

namespace tresse::dispatcher::health {
namespace {

namespace keys = redis::keys;

std::int64_t to_ms(wall_time t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

breaker_store::breaker_store(std::shared_ptr<redis::client> redis) : redis_(std::move(redis)) {}

status breaker_store::publish_open(std::string_view endpoint_id, wall_time until,
                                   bool release_probe) {
  // GT: two instances opening at once keep the later open_until.
  std::vector<std::vector<std::string>> commands = {{"ZADD", std::string(keys::breakers_open), "GT",
                                                     std::to_string(to_ms(until)),
                                                     std::string(endpoint_id)}};
  if (release_probe) commands.push_back({"DEL", keys::breaker_probe(endpoint_id)});
  auto r = redis_->pipeline(commands);
  if (!r) return std::unexpected(r.error());
  for (const auto& reply : *r) {
    if (reply.type == redis::reply::kind::error) {
      return fail(error_kind::permanent, "redis: " + reply.str);
    }
  }
  return {};
}

status breaker_store::publish_closed(std::string_view endpoint_id) {
  auto r = redis_->pipeline({{"ZREM", std::string(keys::breakers_open), std::string(endpoint_id)},
                             {"DEL", keys::breaker_probe(endpoint_id)}});
  if (!r) return std::unexpected(r.error());
  return {};
}

result<bool> breaker_store::try_probe_lease(std::string_view endpoint_id, std::string_view owner,
                                            std::chrono::milliseconds lease) {
  auto r = redis_->command({"SET", keys::breaker_probe(endpoint_id), owner, "NX", "PX",
                            std::to_string(std::max<std::int64_t>(1, lease.count()))});
  if (!r) return std::unexpected(r.error());
  return !r->is_nil();
}

result<std::vector<open_circuit>> breaker_store::open_circuits() {
  auto r = redis_->command({"ZRANGE", keys::breakers_open, "0", "-1", "WITHSCORES"});
  if (!r) return std::unexpected(r.error());
  std::vector<open_circuit> out;
  const auto& e = r->elements;
  for (std::size_t i = 0; i + 1 < e.size(); i += 2) {
    std::int64_t ms = std::strtoll(e[i + 1].str.c_str(), nullptr, 10);
    out.push_back({e[i].str, wall_time(std::chrono::milliseconds(ms))});
  }
  return out;
}

}  // namespace tresse::dispatcher::health
