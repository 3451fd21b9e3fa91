#include "registry/endpoint.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <array>

#include "tresse/common/event.hpp"

namespace tresse::dispatcher::registry {
namespace {

// ASCII order, so fixed-width base62 strings sort like the numbers they encode.
constexpr std::string_view base62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

}  // namespace

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

std::string new_endpoint_id(clock::time_point now) {
  auto ms = static_cast<std::uint64_t>(std::max<std::int64_t>(0, to_unix_ms(now)));
  std::string id = "we_";
  std::array<char, 8> time_part{};
  for (int i = 7; i >= 0; --i) {
    time_part[static_cast<std::size_t>(i)] = base62[ms % 62];
    ms /= 62;
  }
  id.append(time_part.data(), time_part.size());
  // Rejection sampling (248 = 4 * 62) keeps the 14 random characters unbiased.
  while (id.size() < 3 + 8 + 14) {
    std::array<unsigned char, 16> random{};
    RAND_bytes(random.data(), static_cast<int>(random.size()));
    for (unsigned char b : random) {
      if (b < 248 && id.size() < 3 + 8 + 14) id.push_back(base62[b % 62]);
    }
  }
  return id;
}

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
