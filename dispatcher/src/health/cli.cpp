#include "health/cli.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "health/breaker_store.hpp"
#include "health/report.hpp"
#include "redis/client.hpp"
#include "redis/keys.hpp"
#include "registry/store.hpp"
#include "tresse/common/event.hpp"

namespace tresse::dispatcher::health {
namespace {

using json = nlohmann::json;

constexpr std::string_view usage =
    "usage: tresse-dispatcher endpoints health [--business ID] [ENDPOINT_ID]\n"
    "  per endpoint: state, breaker, success rate and p50/p99 latency of the last attempts,\n"
    "  rate in force, backlog (retry schedule, queued, in flight), failure streaks\n"
    "  common: --redis URL (or $TRESSE_REDIS_URL)\n"
    "          --encryption-key KEY (or $TRESSE_REGISTRY_ENCRYPTION_KEY)\n";

int fail_with(int code, std::string_view kind, std::string_view message) {
  if (code == 2) std::cerr << usage;
  std::cerr << json{{"error", {{"code", kind}, {"message", message}}}}.dump() << "\n";
  return code;
}

std::string env_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

// Retry tasks per endpoint (task ids are "<event>:<endpoint>"), scheduled or claimed.
result<std::map<std::string, std::int64_t>> retry_backlog(redis::client& redis,
                                                          const std::vector<std::string>& ids) {
  std::map<std::string, std::int64_t> out;
  for (const auto& id : ids) out[id] = 0;
  const std::string match = ids.size() == 1 ? "*:" + ids.front() : "*";
  for (auto set : {redis::keys::retry_due, redis::keys::retry_claimed}) {
    std::string cursor = "0";
    do {
      auto r = redis.command({"ZSCAN", set, cursor, "MATCH", match, "COUNT", "1000"});
      if (!r) return std::unexpected(r.error());
      if (r->elements.size() != 2) break;
      cursor = r->elements[0].str;
      const auto& members = r->elements[1].elements;
      for (std::size_t i = 0; i < members.size(); i += 2) {  // member, score
        const auto& task = members[i].str;
        auto colon = task.rfind(':');
        if (colon == std::string::npos) continue;
        auto it = out.find(task.substr(colon + 1));
        if (it != out.end()) ++it->second;
      }
    } while (cursor != "0");
  }
  return out;
}

json merge(const registry::endpoint& ep, const std::map<std::string, endpoint_report>& views,
           const std::optional<wall_time>& open_until, std::int64_t scheduled,
           const std::vector<std::optional<std::string>>& stats, wall_time now) {
  std::size_t attempts = 0, in_flight = 0, queued = 0;
  double ok = 0;
  std::optional<std::int64_t> p50, p99;
  std::optional<double> rate;
  bool throttled = false;
  for (const auto& [instance, r] : views) {
    attempts += r.attempts;
    if (r.success_rate >= 0) ok += r.success_rate * static_cast<double>(r.attempts);
    // Percentiles do not merge exactly: the worst instance's is shown.
    if (r.p50_ms) p50 = std::max(p50.value_or(0), *r.p50_ms);
    if (r.p99_ms) p99 = std::max(p99.value_or(0), *r.p99_ms);
    if (r.rate_per_second) rate = std::min(rate.value_or(*r.rate_per_second), *r.rate_per_second);
    throttled = throttled || r.state == "throttled";
    in_flight += r.in_flight;
    queued += r.queued;
  }
  endpoint_report merged;
  merged.attempts = attempts;
  merged.success_rate = attempts > 0 ? ok / static_cast<double>(attempts) : -1;
  merged.breaker = !open_until ? "closed" : *open_until > now ? "open" : "half_open";
  std::string state = ep.enabled ? classify(merged, throttled) : "disabled";
  auto opt = [](const auto& o) { return o ? json(*o) : json(nullptr); };
  auto num = [](const std::optional<std::string>& s) -> std::int64_t {
    return s ? std::strtoll(s->c_str(), nullptr, 10) : 0;
  };
  json failing_since = nullptr;
  if (stats[0]) {
    failing_since = tresse::events::format_rfc3339(registry::from_unix_ms(num(stats[0])));
  }
  return {
      {"id", ep.id},
      {"business_id", ep.business_id},
      {"url", ep.url},
      {"enabled", ep.enabled},
      {"disabled_reason", ep.disabled_reason.empty() ? json(nullptr) : json(ep.disabled_reason)},
      {"state", state},
      {"breaker", merged.breaker},
      {"breaker_open_until",
       open_until ? json(tresse::events::format_rfc3339(*open_until)) : json(nullptr)},
      {"attempts", attempts},
      {"success_rate", attempts > 0 ? json(merged.success_rate) : json(nullptr)},
      {"latency_ms", {{"p50", opt(p50)}, {"p99", opt(p99)}}},
      {"rate_per_second", opt(rate)},
      {"rate_limit_per_second", ep.rate_limit_per_second},
      {"backlog", {{"retry_scheduled", scheduled}, {"queued", queued}, {"in_flight", in_flight}}},
      {"failure_count", ep.failure_count},
      {"consecutive_failures", ep.consecutive_failures},
      {"failing_since", failing_since},
      {"dead_lettered", ep.dead_lettered},
      {"consecutive_dead_lettered", num(stats[1])},
      {"instances", views.size()}};
}

}  // namespace

int run_health_command(int argc, char** argv) {
  std::optional<std::string> business, id, redis_url, key_text;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](std::optional<std::string>& into) {
      if (i + 1 >= argc) return false;
      into = argv[++i];
      return true;
    };
    if (a == "--business") {
      if (!value(business)) return fail_with(2, "usage", "--business needs a value");
    } else if (a == "--redis") {
      if (!value(redis_url)) return fail_with(2, "usage", "--redis needs a value");
    } else if (a == "--encryption-key") {
      if (!value(key_text)) return fail_with(2, "usage", "--encryption-key needs a value");
    } else if (a == "--help" || a == "-h") {
      std::cout << usage;
      return 0;
    } else if (!a.starts_with("-") && !id) {
      id = std::string(a);
    } else {
      return fail_with(2, "usage", "unexpected argument " + std::string(a));
    }
  }
  if (!business && !id) return fail_with(2, "usage", "give --business or an endpoint id");

  auto opts =
      redis::parse_url(redis_url.value_or(env_or("TRESSE_REDIS_URL", "redis://127.0.0.1:6379/0")));
  if (!opts) return fail_with(2, "usage", opts.error().message);
  opts->pool_size = 1;
  auto redis = std::make_shared<redis::client>(*opts);
  registry::store_options store_opts;
  std::string key = key_text.value_or(env_or("TRESSE_REGISTRY_ENCRYPTION_KEY", ""));
  if (!key.empty()) {
    auto box = registry::secret_box::from_text(key);
    if (!box) return fail_with(2, "usage", box.error().message);
    store_opts.encryption = std::move(*box);
  }
  registry::store endpoints(redis, std::move(store_opts));
  auto unavailable = [](const error& e) { return fail_with(1, "unavailable", e.message); };

  std::vector<registry::endpoint> eps;
  if (id) {
    auto ep = endpoints.get(*id);
    if (!ep) return unavailable(ep.error());
    if (!*ep) return fail_with(1, "not_found", "no endpoint " + *id);
    if (business && (*ep)->business_id != *business) {
      return fail_with(1, "not_found", "no endpoint " + *id);
    }
    eps.push_back(std::move(**ep));
  } else {
    registry::page_request req{.limit = 100};
    for (;;) {
      auto page = endpoints.list(*business, req);
      if (!page) return unavailable(page.error());
      for (auto& ep : page->data) eps.push_back(std::move(ep));
      if (!page->has_more) break;
      req.cursor = page->next_cursor;
    }
  }
  std::vector<std::string> ids;
  for (const auto& ep : eps) ids.push_back(ep.id);

  report_store reports(redis);
  auto views = reports.read(ids);
  if (!views) return unavailable(views.error());
  breaker_store breakers(redis);
  auto open = breakers.open_circuits();
  if (!open) return unavailable(open.error());
  auto backlog = retry_backlog(*redis, ids);
  if (!backlog) return unavailable(backlog.error());
  std::vector<std::vector<std::string>> stat_cmds;
  for (const auto& i : ids) {
    stat_cmds.push_back(
        {"HMGET", redis::keys::endpoint_stats(i), "failing_since", "consecutive_dead_lettered"});
  }
  auto stats = redis->pipeline(stat_cmds);
  if (!stats) return unavailable(stats.error());

  const auto now = std::chrono::system_clock::now();
  json data = json::array();
  for (std::size_t i = 0; i < eps.size(); ++i) {
    std::optional<wall_time> open_until;
    for (const auto& c : *open) {
      if (c.endpoint_id == eps[i].id) open_until = c.open_until;
    }
    std::vector<std::optional<std::string>> fields(2);
    if (i < stats->size()) {
      const auto& f = (*stats)[i].elements;
      for (std::size_t k = 0; k < f.size() && k < 2; ++k) {
        if (f[k].type == redis::reply::kind::string) fields[k] = f[k].str;
      }
    }
    static const std::map<std::string, endpoint_report> none;
    auto v = views->find(eps[i].id);
    data.push_back(merge(eps[i], v == views->end() ? none : v->second, open_until,
                         (*backlog)[eps[i].id], fields, now));
  }
  std::cout << json{{"data", data}}.dump(2) << "\n";
  return 0;
}

}  // namespace tresse::dispatcher::health
