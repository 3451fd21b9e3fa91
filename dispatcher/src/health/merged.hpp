// One endpoint's health as all instances together see it: their reports (health/report.hpp)
// merged, with the circuit state every instance shares (health/breaker_store.hpp) and whether
// the endpoint is enabled. `tresse-dispatcher endpoints health`, the Management API's `health`
// field and the operators' view all read it through here, so they agree.
//
//   redis::command_list c;
//   health::add_read(c, ids);                                 // 1 + ids.size() commands
//   auto views = health::from_replies(replies, 0, ids.size());
//   health::merged h = health::merge(ep.enabled, views[i], open_until[i], now);
#pragma once

#include <chrono>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "health/breaker.hpp"
#include "health/report.hpp"
#include "redis/client.hpp"
#include "redis/command_list.hpp"

namespace tresse::dispatcher::health {

struct merged {
  // disabled, circuit_open, circuit_half_open, throttled, failing, healthy, idle
  std::string state;
  std::string breaker;  // closed, open, half_open
  std::optional<wall_time> open_until;
  std::size_t attempts = 0;     // in the instances' recent windows, together
  double success_rate = -1;     // -1: no attempts
  std::optional<std::int64_t> p50_ms, p99_ms;  // the worst instance's (they do not merge)
  std::optional<double> rate_per_second;       // the lowest in force
  std::size_t in_flight = 0, queued = 0, instances = 0;
};

merged merge(bool enabled, const std::vector<endpoint_report>& views,
             std::optional<wall_time> open_until, wall_time now);

// Reading it for `ids` in one pipeline: each one's reports (HVALS), then their shared circuits
// (one ZMSCORE).
void add_read(redis::command_list& c, const std::vector<std::string>& ids);
struct read_result {
  std::vector<std::vector<endpoint_report>> views;     // per id
  std::vector<std::optional<wall_time>> open_until;    // per id
};
// From the replies r[from ...] of add_read's commands for `ids`; an id with a bad reply has no
// reports (idle) and no open circuit.
read_result from_replies(const std::vector<redis::reply>& r, std::size_t from,
                         const std::vector<std::string>& ids);

// The Management API's `health` object: {"attempts", "circuit_open_until", "state",
// "success_rate"}, appended as text (a page of 25 built nlohmann objects and dumped them, per
// request), and the same parsed, for responses built as nlohmann::json.
void append_api_json(std::string& out, const merged& h);
nlohmann::json to_api_json(const merged& h);

}  // namespace tresse::dispatcher::health
