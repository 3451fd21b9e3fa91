#include "health/report.hpp"

#include "redis/keys.hpp"

namespace tresse::dispatcher::health {

std::string classify(const endpoint_report& r, bool throttled) {
  if (r.breaker == "open") return "circuit_open";
  if (r.breaker == "half_open") return "circuit_half_open";
  if (throttled) return "throttled";
  if (r.attempts == 0) return "idle";
  if (r.success_rate < 0.5) return "failing";
  return "healthy";
}

nlohmann::json to_json(const endpoint_report& r) {
  auto opt = [](const auto& o) { return o ? nlohmann::json(*o) : nlohmann::json(nullptr); };
  return {{"business_id", r.business_id},
          {"state", r.state},
          {"breaker", r.breaker},
          {"attempts", r.attempts},
          {"success_rate",
           r.success_rate < 0 ? nlohmann::json(nullptr) : nlohmann::json(r.success_rate)},
          {"p50_ms", opt(r.p50_ms)},
          {"p99_ms", opt(r.p99_ms)},
          {"rate_per_second", opt(r.rate_per_second)},
          {"in_flight", r.in_flight},
          {"queued", r.queued}};
}

endpoint_report report_from_json(std::string_view endpoint_id, const nlohmann::json& j) {
  endpoint_report r;
  r.endpoint_id = std::string(endpoint_id);
  if (!j.is_object()) return r;
  r.business_id = j.value("business_id", "");
  r.state = j.value("state", "");
  r.breaker = j.value("breaker", "");
  r.attempts = j.value("attempts", std::size_t{0});
  if (j.contains("success_rate") && j["success_rate"].is_number()) {
    r.success_rate = j["success_rate"].get<double>();
  }
  if (j.contains("p50_ms") && j["p50_ms"].is_number()) r.p50_ms = j["p50_ms"].get<std::int64_t>();
  if (j.contains("p99_ms") && j["p99_ms"].is_number()) r.p99_ms = j["p99_ms"].get<std::int64_t>();
  if (j.contains("rate_per_second") && j["rate_per_second"].is_number()) {
    r.rate_per_second = j["rate_per_second"].get<double>();
  }
  r.in_flight = j.value("in_flight", std::size_t{0});
  r.queued = j.value("queued", std::size_t{0});
  return r;
}

report_store::report_store(std::shared_ptr<redis::client> redis, std::chrono::milliseconds ttl)
    : redis_(std::move(redis)), ttl_(ttl) {}

status report_store::publish(std::string_view instance,
                             const std::vector<endpoint_report>& reports) {
  if (reports.empty()) return {};
  std::vector<std::vector<std::string>> cmds;
  cmds.reserve(reports.size() * 2);
  for (const auto& r : reports) {
    auto key = redis::keys::endpoint_health(r.endpoint_id);
    cmds.push_back({"HSET", key, std::string(instance), to_json(r).dump()});
    cmds.push_back({"PEXPIRE", key, std::to_string(ttl_.count())});
  }
  auto r = redis_->pipeline(cmds);
  if (!r) return std::unexpected(r.error());
  return {};
}

result<std::map<std::string, std::map<std::string, endpoint_report>>> report_store::read(
    const std::vector<std::string>& endpoint_ids) {
  std::map<std::string, std::map<std::string, endpoint_report>> out;
  if (endpoint_ids.empty()) return out;
  std::vector<std::vector<std::string>> cmds;
  for (const auto& id : endpoint_ids) cmds.push_back({"HGETALL", redis::keys::endpoint_health(id)});
  auto r = redis_->pipeline(cmds);
  if (!r) return std::unexpected(r.error());
  for (std::size_t i = 0; i < endpoint_ids.size() && i < r->size(); ++i) {
    const auto& e = (*r)[i].elements;
    for (std::size_t k = 0; k + 1 < e.size(); k += 2) {
      auto j = nlohmann::json::parse(e[k + 1].str, nullptr, /*allow_exceptions=*/false);
      out[endpoint_ids[i]][e[k].str] = report_from_json(endpoint_ids[i], j);
    }
  }
  return out;
}

}  // namespace tresse::dispatcher::health
