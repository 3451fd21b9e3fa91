#include "registry/endpoint.hpp"

#include <algorithm>
#include <array>

#include "tresse/common/event.hpp"
#include "tresse/common/ids.hpp"

namespace tresse::dispatcher::registry {

std::vector<std::string> endpoint::live_secrets(clock::time_point now) const {
  std::vector<std::string> out;
  if (!secret.empty()) out.push_back(secret);
  for (const auto& p : previous_secrets) {
    if (p.expires_at > now) out.push_back(p.secret);
  }
  return out;
}

bool endpoint::subscribes_to(std::string_view event_type, bool event_livemode) const {
  if (!enabled || livemode != event_livemode) return false;
  return std::any_of(events.begin(), events.end(), [&](const std::string& pattern) {
    return tresse::events::event_type_matches(pattern, event_type);
  });
}

std::string new_endpoint_id(clock::time_point now) { return ids::time_ordered("we_", now); }

std::int64_t to_unix_ms(clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

clock::time_point from_unix_ms(std::int64_t ms) {
  return clock::time_point(
      std::chrono::duration_cast<clock::duration>(std::chrono::milliseconds(ms)));
}

nlohmann::json to_json(const endpoint& ep, bool include_secret) {
  nlohmann::json j = {
      {"id", ep.id},
      {"object", "webhook_endpoint"},
      {"business_id", ep.business_id},
      {"url", ep.url},
      {"events", ep.events},
      {"livemode", ep.livemode},
      {"enabled", ep.enabled},
      {"disabled_reason",
       ep.disabled_reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(ep.disabled_reason)},
      {"description", ep.description},
      {"rate_limit_per_second", ep.rate_limit_per_second},
      {"created_at", tresse::events::format_rfc3339(ep.created_at)},
      {"updated_at", tresse::events::format_rfc3339(ep.updated_at)},
      {"failure_count", ep.failure_count},
      {"consecutive_failures", ep.consecutive_failures},
      {"dead_lettered", ep.dead_lettered},
  };
  if (include_secret) {
    j["secret"] = ep.secret;
    nlohmann::json prev = nlohmann::json::array();
    for (const auto& p : ep.previous_secrets) {
      prev.push_back(
          {{"secret", p.secret}, {"expires_at", tresse::events::format_rfc3339(p.expires_at)}});
    }
    j["previous_secrets"] = prev;
  }
  return j;
}

}  // namespace tresse::dispatcher::registry
