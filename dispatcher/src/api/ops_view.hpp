// The operators' view (GET /v1/ops/overview, drawn by /console/ops/): every business's
// endpoints by state, the worst ten by success rate and by p99, the retry backlog, consumer
// lag, dead letters per hour and the delivery rate over the last hour. It reads what
// `tresse-dispatcher endpoints health` and /metrics read: the endpoints as this instance's
// registry cache holds them, every instance's health reports and the shared circuits
// (health/merged.hpp), the retry schedule's sizes, this instance's consumer lag, and the
// minute and hour counters the delivery path keeps (stats/accumulator.hpp, keys.hpp).
//
// Reached with api.operator_token as a Bearer token (compared as SHA-256 digests in constant
// time); without one configured the view and its API are off (404). One pipelined Redis round
// trip per request, bounded: at most max_endpoints endpoints are read.
//
//   api::ops_view ops(cfg.api.operator_token_sha256, {&cache, lag});
//   if (ops.enabled() && ops.authorized(req[authorization])) {
//     auto op = ops.overview_op(now);
//     auto j = co_await redis::run(async_redis, op);
//   }
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "redis/request.hpp"
#include "registry/cache.hpp"

namespace tresse::dispatcher::api {

struct ops_sources {
  const registry::cache* endpoints = nullptr;  // none: no endpoints listed
  std::function<std::optional<double>()> consumer_lag;  // this instance's, as /metrics has it
  std::size_t retry_shards = 16;  // retry::store::shards(): the schedule's size sums them
};

class ops_view {
 public:
  static constexpr std::size_t max_endpoints = 1000;
  static constexpr std::size_t worst = 10;

  // `token_sha256`: api.operator_token's digest (hex); empty: off.
  ops_view(std::string token_sha256, ops_sources sources);

  bool enabled() const { return !token_sha256_.empty(); }
  // The Authorization header carries the operator token ("Bearer …").
  bool authorized(std::string_view authorization) const;

  // {"object": "ops_overview", ...}: dispatcher/api/openapi.json, OpsOverview.
  redis::operation<nlohmann::json> overview_op(std::chrono::system_clock::time_point now) const;

 private:
  std::string token_sha256_;
  ops_sources sources_;
};

}  // namespace tresse::dispatcher::api
