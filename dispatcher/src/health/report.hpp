// Endpoint health as each dispatcher instance sees it, shared through Redis for
// `tresse-dispatcher endpoints health` and summarised in /metrics.
//
// Every instance writes its view of each endpoint it holds state for, every 2 s, into the hash
// tresse:endpoint:{id}:health (field: instance id, value: the JSON below), which expires 10 s
// after the last write, so stopped instances drop out on their own:
//
//   {"state": "healthy", "breaker": "closed", "attempts": 256, "success_rate": 0.98,
//    "p50_ms": 41, "p99_ms": 230, "rate_per_second": null, "in_flight": 3, "queued": 0,
//    "business_id": "biz_1"}
//
// state: circuit_open, circuit_half_open, throttled (an adaptive rate in force), failing (under
// half of the last attempts succeeded), healthy, or idle (no attempts yet).
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redis/client.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::health {

struct endpoint_report {
  std::string endpoint_id;
  std::string business_id;
  std::string state;         // see above
  std::string breaker;       // closed, open, half_open
  std::size_t attempts = 0;  // in the window
  double success_rate = -1;  // -1: no attempts
  std::optional<std::int64_t> p50_ms, p99_ms;
  std::optional<double> rate_per_second;  // in force; empty: unlimited
  std::size_t in_flight = 0;
  std::size_t queued = 0;
};

// Classifies from the other fields; `throttled`: an adaptive rate is in force.
std::string classify(const endpoint_report& r, bool throttled);

nlohmann::json to_json(const endpoint_report& r);
endpoint_report report_from_json(std::string_view endpoint_id, const nlohmann::json& j);

class report_store {
 public:
  explicit report_store(std::shared_ptr<redis::client> redis,
                        std::chrono::milliseconds ttl = std::chrono::seconds(10));
  // One pipeline for all of this instance's reports.
  status publish(std::string_view instance, const std::vector<endpoint_report>& reports);
  // endpoint id -> instance -> report, for the given endpoints (those without any omitted).
  result<std::map<std::string, std::map<std::string, endpoint_report>>> read(
      const std::vector<std::string>& endpoint_ids);

 private:
  std::shared_ptr<redis::client> redis_;
  std::chrono::milliseconds ttl_;
};

}  // namespace tresse::dispatcher::health
