// The retry policy: how long to wait before the next attempt, and when to give up.
//
// DESIGN.md's default, after the first attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, each
// with ±20 % jitter; then the delivery is dead-lettered. A Retry-After hint (429/503) is
// honoured: never sooner than it says, but never later than the schedule's longest delay.
//
//   retry::schedule policy;                                  // defaults
//   if (auto d = policy.next_delay(task.attempts, hint)) reschedule(task, now + *d);
//   else dead_letter(task);
//
// The only implementation of the retry policy; the RNG is injectable for deterministic tests.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <vector>

namespace tresse::dispatcher::retry {

using std::chrono::milliseconds;

struct schedule_options {
  // Delay before attempt 2, 3, ... (delays.size() + 1 attempts in all).
  std::vector<milliseconds> delays = {std::chrono::seconds(5),  std::chrono::minutes(5),
                                      std::chrono::minutes(30), std::chrono::hours(2),
                                      std::chrono::hours(5),    std::chrono::hours(10),
                                      std::chrono::hours(10)};
  double jitter = 0.2;  // each delay is scaled by a uniform factor in [1 - jitter, 1 + jitter]
};

class schedule {
 public:
  // Returns uniform doubles in [0, 1). Default: a thread-local std::mt19937_64. An injected
  // function must be safe to call from the threads that call next_delay.
  using uniform_rng = std::function<double()>;

  explicit schedule(schedule_options opts = {}, uniform_rng rng = {});
  schedule(std::vector<milliseconds> delays, double jitter, uniform_rng rng = {})
      : schedule(schedule_options{std::move(delays), jitter}, std::move(rng)) {}

  // The wait before the next attempt, given how many attempts were already made (>= 1);
  // nullopt when the schedule is exhausted (dead-letter). `retry_after` is the endpoint's hint.
  std::optional<milliseconds> next_delay(int attempts_so_far,
                                         std::optional<milliseconds> retry_after = {}) const;

  // All attempts, the first included.
  int max_attempts() const { return static_cast<int>(opts_.delays.size()) + 1; }
  // The longest un-jittered delay: the bound on a Retry-After hint.
  milliseconds max_delay() const;
  // An upper bound on the time from the first attempt to the last (all delays at +jitter):
  // how long retry state must be kept.
  milliseconds total_span() const;

  const schedule_options& options() const { return opts_; }

 private:
  schedule_options opts_;
  uniform_rng rng_;
};

}  // namespace tresse::dispatcher::retry
