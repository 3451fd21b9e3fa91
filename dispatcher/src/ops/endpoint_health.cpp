// `tresse-dispatcher endpoints health [--business B] [ID]`: per-endpoint health as JSON, merged
// from every running instance's report (health/report.hpp), the shared circuit state, the
// stats counters and the retry backlog in Redis.
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/ordered_queue.hpp"
#include "health/breaker_store.hpp"
#include "health/merged.hpp"
#include "health/report.hpp"
#include "ops/commands.hpp"
#include "ops/connect.hpp"
#include "ops/output.hpp"
#include "redis/client.hpp"
#include "redis/keys.hpp"
#include "registry/store.hpp"
#include "retry/store.hpp"
#include "tresse/common/event.hpp"

namespace tresse::dispatcher::ops {
namespace {

using json = nlohmann::json;

using health::breaker_store;
using health::endpoint_report;
using health::report_store;

struct health_flags {
  store_flags store;
  std::optional<std::string> business;
  std::optional<std::string> id;
};

// Retry tasks per endpoint, scheduled or claimed: the size of each endpoint's task index in its
// retry shard (redis/keys.hpp), one pipeline.
result<std::map<std::string, std::int64_t>> retry_backlog(redis::client& redis, std::size_t shards,
                                                          const std::vector<std::string>& ids) {
  redis::request r;
  for (const auto& id : ids) {
    r.commands.add({"SCARD", redis::keys::retry_endpoint_tasks(redis::keys::retry_shard(id, shards), id)});
  }
  auto got = redis::run(redis, r);
  if (auto e = redis::status_of(got); !e) return std::unexpected(e.error());
  std::map<std::string, std::int64_t> out;
  for (std::size_t i = 0; i < ids.size() && i < got->size(); ++i) out[ids[i]] = (*got)[i].integer;
  return out;
}

json merge(const registry::endpoint& ep, const std::map<std::string, endpoint_report>& views,
           const std::optional<health::wall_time>& open_until, std::int64_t scheduled,
           const std::vector<std::optional<std::string>>& stats, health::wall_time now) {
  std::vector<endpoint_report> reports;
  for (const auto& [instance, r] : views) reports.push_back(r);
  const health::merged m = health::merge(ep.enabled, reports, open_until, now);
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
      {"state", m.state},
      {"breaker", m.breaker},
      {"breaker_open_until",
       open_until ? json(tresse::events::format_rfc3339(*open_until)) : json(nullptr)},
      {"attempts", m.attempts},
      {"success_rate", m.attempts > 0 ? json(m.success_rate) : json(nullptr)},
      {"latency_ms", {{"p50", opt(m.p50_ms)}, {"p99", opt(m.p99_ms)}}},
      {"rate_per_second", opt(m.rate_per_second)},
      {"rate_limit_per_second", ep.rate_limit_per_second},
      // mTLS: when the client certificate stops working (null: none).
      {"tls_client_certificate_expires_at",
       ep.tls_client_certificate.identity
           ? json(tresse::events::format_rfc3339(
                 ep.tls_client_certificate.identity->info().expires_at))
           : json(nullptr)},
      {"backlog", {{"retry_scheduled", scheduled}, {"queued", m.queued}, {"in_flight", m.in_flight}}},
      {"failure_count", ep.failure_count},
      {"consecutive_failures", ep.consecutive_failures},
      {"failing_since", failing_since},
      {"dead_lettered", ep.dead_lettered},
      {"consecutive_dead_lettered", num(stats[1])},
      {"instances", m.instances}};
}

int endpoint_health(const health_flags& f) {
  const auto& business = f.business;
  const auto& id = f.id;
  if (!business && !id) throw tresse::cli::usage_error("give --business or an endpoint id");
  std::shared_ptr<redis::client> redis = redis_client(f.store);  // reports, breakers, counters
  registry::store endpoints = open_store(f.store, redis);
  auto unavailable = [](const error& e) { return print_error(1, "unavailable", e.message); };

  std::vector<registry::endpoint> eps;
  if (id) {
    auto ep = endpoints.get(*id);
    if (!ep) return unavailable(ep.error());
    if (!*ep) return print_error(1, "not_found", "no endpoint " + *id);
    if (business && (*ep)->business_id != *business) {
      return print_error(1, "not_found", "no endpoint " + *id);
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
  auto shards = retry::store::recorded_shard_count(*redis);
  if (!shards) return unavailable(shards.error());
  auto backlog = retry_backlog(*redis, *shards, ids);
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
    std::optional<health::wall_time> open_until;
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
    json entry = merge(eps[i], v == views->end() ? none : v->second, open_until,
                       (*backlog)[eps[i].id], fields, now);
    entry["ordering"] = registry::to_string(eps[i].order);
    if (eps[i].order == registry::ordering::per_resource) {
      auto op = ordered::backlog_op(eps[i].id, *shards);
      auto waiting = redis::run(*redis, op);
      if (!waiting) return unavailable(waiting.error());
      entry["backlog"]["ordered_waiting"] = waiting->waiting;
      entry["backlog"]["ordered_oldest_queued_at"] =
          waiting->oldest_queued_at
              ? json(tresse::events::format_rfc3339(*waiting->oldest_queued_at))
              : json(nullptr);
    }
    data.push_back(std::move(entry));
  }
  return print({{"data", data}});
}

}  // namespace

void add_endpoint_health_command(tresse::cli::program& p, CLI::App& endpoints) {
  auto f = std::make_shared<health_flags>();
  CLI::App& cmd =
      p.command(endpoints, "health", "per-endpoint health: state, breaker, latency, backlog",
                [f] { return endpoint_health(*f); });
  cmd.footer(
      "Per endpoint: state, breaker, success rate and p50/p99 latency of the last attempts,\n"
      "rate in force, backlog (retry schedule, queued, in flight; for ordered endpoints the\n"
      "events waiting in their resources' queues), failure streaks; merged from\n"
      "every running instance's report. Give --business, an endpoint id, or both.");
  cmd.add_option("endpoint_id", f->id, "one endpoint (we_...)")->type_name("ENDPOINT_ID");
  cmd.add_option("--business", f->business, "every endpoint of this business")->type_name("ID");
  add_store_flags(cmd, f->store);
}

}  // namespace tresse::dispatcher::ops
