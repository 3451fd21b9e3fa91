// One endpoint's lane on its shard: everything the engine keeps per endpoint, and the attempt
// that runs through it. Admission, pacing and circuit, in that order:
//
// - Circuit breaker (health/breaker.hpp), shared by all instances through Redis
//   (health/breaker_store.hpp): after `breaker.failure_threshold` failed attempts within
//   `breaker.window` the circuit opens and deliveries are deferred (their attempt counts
//   unchanged) to just after the cool-down, spread over half a cool-down. Then one probe, by the
//   one instance holding the probe lease, decides.
// - Slots (delivery/lane.hpp): bounded concurrency, first attempts before retries, a bounded
//   queue; a delivery that cannot get a slot within `endpoint_queue_timeout` (or meets a full
//   queue while the endpoint is stalled) is deferred.
// - Pace (health/throttle.hpp): the AIMD rate, the endpoint's fixed rate_limit_per_second and
//   any Retry-After pause. A wait past the queue timeout defers.
// - Then a shard-wide permit (delivery.max_in_flight split over the shards), the signature and
//   the POST.
//
// A deferred result made no request: the caller hands the delivery to the retry schedule. A
// local error (out of descriptors or memory here) is deferred too, and counts against nothing.
//
// Everything here runs on the lane's shard thread only: no locks.
#pragma once

#include <cassert>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "delivery/async_semaphore.hpp"
#include "delivery/context.hpp"
#include "delivery/endpoint_headers.hpp"
#include "delivery/lane.hpp"
#include "delivery/outcome.hpp"
#include "health/breaker.hpp"
#include "health/throttle.hpp"
#include "health/window.hpp"
#include "http/client.hpp"
#include "retry/store.hpp"
#include "tresse/receiver/key.hpp"

namespace tresse::dispatcher {

struct attempt_result {
  bool ran = false;       // false: cancelled by shutdown before or during the attempt
  bool deferred = false;  // no request made: hand it to the schedule, due at defer_due
  clock_time defer_due;
  outcome result;
  std::string error;             // what failed, when no response came
  retry::attempt_record record;  // for the attempt log (when a request was made)
  std::string describe() const;  // "reason: error" for logs and the task's last_error
};

// While it lives, its lane is in use (not prunable): use_lane(users) counts one user.
struct lane_user_done {
  void operator()(std::size_t* users) const { --*users; }
};
using lane_user = std::unique_ptr<std::size_t, lane_user_done>;
inline lane_user use_lane(std::size_t& users) {
  ++users;
  return lane_user(&users);
}

// The half-open circuit's probe a delivery holds: abandoned (another may probe) when dropped,
// unless release()d once its outcome was reported.
struct probe_abandon {
  void operator()(health::breaker* b) const { b->probe_abandoned(); }
};
using probe_claim = std::unique_ptr<health::breaker, probe_abandon>;

// What a delivery got from its lane's admission (endpoint_lane::admit): a slot, or why not.
// Kept small on purpose: a delivery waits for its slot with only this (and the admission's own
// frame) alive, and a burst can hold thousands of them; the attempt's state comes later.
struct admission {
  enum state_t { cancelled, deferred, granted } state = cancelled;
  clock_time defer_due{};                              // deferred: when to come back
  std::chrono::steady_clock::time_point deadline{};    // granted: pacing waits until then at most
  lane_permit slot;                                    // granted
  probe_claim probe;                                   // granted as the half-open probe
  lane_user user;
  void defer(clock_time due) {
    state = deferred;
    defer_due = due;
  }
};

// What a lane's attempt uses of its shard.
struct shard_env {
  context& ctx;
  http::client& client;
  async_semaphore& in_flight;  // the shard's share of delivery.max_in_flight
  std::mt19937_64& rng;
};

class endpoint_lane {
 public:
  endpoint_lane(boost::asio::any_io_executor ex, const engine_options& o);
  // Only once nothing holds it: housekeeping prunes idle lanes, and a shard's stop destroys
  // its coroutines (and their admissions) before its lanes.
  ~endpoint_lane() { assert(users_ == 0 && "a coroutine still holds this lane"); }
  endpoint_lane(const endpoint_lane&) = delete;
  endpoint_lane& operator=(const endpoint_lane&) = delete;

  // Admission of a delivery of `meta` to `ep` with lane priority `k`: the circuit's verdict
  // (and the probe lease), then a slot. Never throws.
  boost::asio::awaitable<admission> admit(shard_env& env, const registry::endpoint& ep,
                                          const event_meta& meta, lane::kind k);
  // The same without a coroutine when nothing has to wait or decide (the circuit closed, a
  // slot free: most deliveries): true and `out` granted; false: admit() decides.
  bool try_admit(const engine_options& o, lane::kind k, admission& out);
  // Attempt `number` of an admitted delivery (a deferred or cancelled admission returns as
  // such, with no request); `sequence` > 0: sent as tresse-sequence (ordered_queue.hpp).
  // Never throws.
  boost::asio::awaitable<attempt_result> attempt(shard_env& env, const event_meta& meta,
                                                 const registry::endpoint& ep, int number,
                                                 admission& admitted, std::uint64_t sequence);

  // Whether this success should reset the endpoint's failure streak in Redis: after a failure
  // seen here, and otherwise at most once a second (another instance may have failed).
  bool take_streak_reset(std::chrono::steady_clock::time_point now);
  void note_failure() { streak_dirty_ = true; }

  // Adopts the circuit state other instances shared.
  void adopt_shared_open(clock_time until, std::chrono::steady_clock::time_point read_at);
  // Closed elsewhere unless our own open is newer than the read at `read_at`. True: closed now.
  bool adopt_shared_closed(std::chrono::steady_clock::time_point read_at, clock_time now);

  bool prunable() const { return users_ == 0 && slots_.idle(); }
  // For the health snapshot (health/report.hpp).
  health::endpoint_report report(const std::string& id, clock_time now) const;

 private:
  // Grants `out` the slot of kind `k` it holds (as the probe when `probe`).
  void grant(admission& out, lane::kind k, bool probe);
  // When a delivery deferred by an open or half-open circuit should come back.
  clock_time circuit_due(std::mt19937_64& rng, clock_time now) const;
  // After an attempt: feeds the breaker. True when the circuit opened or closed and `shared`
  // (a shared store exists): then share_circuit() tells the other instances.
  bool report_to_breaker(const registry::endpoint& ep, const outcome& o, bool shared);
  boost::asio::awaitable<void> share_circuit(context& ctx, const registry::endpoint& ep);
  void report_to_throttle(const registry::endpoint& ep, const outcome& o);
  // The endpoint's live secrets, parsed once per change.
  const std::vector<receiver::key>& signing_keys(const registry::endpoint& ep, clock_time now);
  // The endpoint's URL, timeout and client certificate, prepared for the client once per
  // change (or why it cannot be).
  const std::expected<http::target, http::failure>& target_for(const http::client& client,
                                                               const registry::endpoint& ep);

  lane slots_;
  health::breaker circuit_;
  health::throttle pace_;
  health::outcome_window recent_;
  std::string business_id_;
  // When this instance last knew its open circuit to be in the shared store; empty while
  // closed or not yet published (then a sync must not close it).
  std::optional<std::chrono::steady_clock::time_point> open_shared_at_;
  std::size_t users_ = 0;  // attempts holding a reference: not prunable
  bool streak_dirty_ = true;  // unknown at start
  std::chrono::steady_clock::time_point streak_reset_at_{};
  std::vector<std::string> secrets_;
  std::vector<receiver::key> keys_;
  std::string target_url_;
  std::uint32_t target_timeout_s_ = 0;
  endpoint_headers own_headers_;
  std::optional<std::expected<http::target, http::failure>> target_;
};

}  // namespace tresse::dispatcher
