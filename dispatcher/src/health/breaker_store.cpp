#include "health/breaker_store.hpp"

#include <cstdlib>

#include "redis/keys.hpp"

namespace tresse::dispatcher::health {
namespace {

namespace keys = redis::keys;

std::int64_t to_ms(wall_time t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// KEYS: the endpoint's open_until, its probe key (one hash tag). ARGV: owner, now (ms), lease
// (ms). Returns {won, shared open_until or 0}. Checking the shared open_until in the same script
// keeps a stale instance from probing right after another's probe failed.
const redis::script& lease_script() {
  static const redis::script s(R"lua(
local open_until = tonumber(redis.call('ZSCORE', KEYS[1], 'until') or '0')
if open_until > tonumber(ARGV[2]) then return {0, open_until} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[3]) then return {1, open_until} end
return {0, open_until}
)lua");
  return s;
}

}  // namespace

breaker_store::breaker_store(std::shared_ptr<redis::client> redis) : redis_(std::move(redis)) {}

status breaker_store::publish_open(std::string_view endpoint_id, wall_time until,
                                   bool release_probe) {
  // GT: two instances opening at once keep the later open_until, in the list of open circuits
  // and in the endpoint's own copy (the probe lease script's: the list is in another slot).
  const std::string ms = std::to_string(to_ms(until));
  std::vector<std::vector<std::string>> commands = {
      {"ZADD", std::string(keys::breakers_open), "GT", ms, std::string(endpoint_id)},
      {"ZADD", keys::breaker_open_until(endpoint_id), "GT", ms, "until"}};
  if (release_probe) commands.push_back({"DEL", keys::breaker_probe(endpoint_id)});
  return redis_->pipeline_ok(commands);
}

status breaker_store::publish_closed(std::string_view endpoint_id) {
  auto r = redis_->pipeline({{"ZREM", std::string(keys::breakers_open), std::string(endpoint_id)},
                             {"DEL", keys::breaker_open_until(endpoint_id)},
                             {"DEL", keys::breaker_probe(endpoint_id)}});
  if (!r) return std::unexpected(r.error());
  return {};
}

result<breaker_store::lease_result> breaker_store::try_probe_lease(std::string_view endpoint_id,
                                                                   std::string_view owner,
                                                                   std::chrono::milliseconds lease,
                                                                   wall_time now) {
  auto r = redis_->eval(lease_script(),
                        {keys::breaker_open_until(endpoint_id), keys::breaker_probe(endpoint_id)},
                        {std::string(owner), std::to_string(to_ms(now)),
                         std::to_string(std::max<std::int64_t>(1, lease.count()))});
  if (!r) return std::unexpected(r.error());
  lease_result out;
  if (r->elements.size() != 2) return fail(error_kind::permanent, "redis: bad lease reply");
  out.won = r->elements[0].integer == 1;
  if (r->elements[1].integer > 0) {
    out.open_until = wall_time(std::chrono::milliseconds(r->elements[1].integer));
  }
  return out;
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
