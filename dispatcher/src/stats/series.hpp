// Reading the minute buckets back (stats/accumulator.hpp) as a time series: `steps` steps of
// `step_minutes` minutes from `first_minute`, each the sum of its minutes over every instance,
// with p50/p99 from the summed latency histograms. One pipelined round trip (an HGETALL per
// minute), so the window is bounded by the caller (the API: 48 h, 1440 steps).
//
//   auto op = stats::read_op("we_1", stats::minute_of(since), 60, 1);
//   auto s = co_await redis::run(async_redis, op);        // or redis::run(blocking, op)
//   nlohmann::json j = stats::to_json(*s);
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "redis/request.hpp"
#include "stats/accumulator.hpp"

namespace tresse::dispatcher::stats {

struct series {
  std::string endpoint_id;
  std::int64_t first_minute = 0;
  std::int64_t step_minutes = 1;
  std::vector<minute_counts> steps;
  minute_counts total;
};

// The largest window read at once, and the most steps.
inline constexpr std::chrono::hours max_window{48};
inline constexpr std::size_t max_steps = 1440;
// How long the minute buckets are kept.
inline constexpr std::chrono::hours retention{48};

// The steps covering [since, until): `step` apart, aligned to multiples of `step` since the
// epoch (hours on the hour), the first holding `since`, the last `until`'s last instant.
struct window {
  std::int64_t first_minute = 0;
  std::size_t steps = 0;
  std::int64_t step_minutes = 1;
};
// Why not, as a message naming the parameter: step not a multiple of 60 from 60 to 86400,
// since not before until, a window over max_window or max_steps.
std::expected<window, std::string> window_of(std::chrono::system_clock::time_point since,
                                             std::chrono::system_clock::time_point until,
                                             std::chrono::seconds step);

redis::operation<series> read_op(std::string endpoint_id, std::int64_t first_minute,
                                 std::size_t steps, std::int64_t step_minutes);

// {"object": "webhook_stats", "endpoint_id", "since", "until", "step", "data": [{"start",
// "delivered", "failed", "latency_ms": {"p50", "p99"}}], "summary": {"delivered", "failed",
// "success_rate", "latency_ms"}}: times in RFC 3339, latencies null without attempts.
nlohmann::json to_json(const series& s);

}  // namespace tresse::dispatcher::stats
