// Per-endpoint request pacing: an adaptive rate (AIMD) plus the endpoint's optional fixed
// `rate_limit_per_second`, and Retry-After pauses. Pure logic, time passed in (tests use an
// injected clock); the engine keeps one per endpoint on its io thread.
//
// Adaptive: unlimited until the endpoint signals overload (429, 502, 503, 504, timeout). Then
// the rate becomes `decrease` x the rate observed over the last second (at most one decrease
// per 200 ms: a burst of concurrent failures is one signal), never below `min_rate`. Each
// success adds `increase` requests/s per second elapsed; once the rate is back to twice what
// it was when throttling began, the endpoint is unlimited again. A Retry-After (429/503)
// pauses every request to the endpoint until then.
//
//   throttle t({.min_rate = 1, .decrease = 0.5, .increase = 5});
//   if (auto at = t.reserve(now, 5s)) sleep_until(*at), send(); else defer();
//   ok ? t.on_success(now) : t.on_overload(now, retry_after);
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace tresse::dispatcher::health {

using steady_time = std::chrono::steady_clock::time_point;

struct throttle_options {
  double min_rate = 1;    // requests/s, the floor of the adaptive rate
  double decrease = 0.5;  // fraction of the rate kept on an overload signal
  double increase = 5;    // requests/s added per second of successes
  std::chrono::milliseconds max_pause = std::chrono::minutes(10);  // bound on Retry-After
};

class throttle {
 public:
  explicit throttle(throttle_options opts = {});

  // The endpoint's fixed limit in requests/s (0: none).
  void set_fixed_rate(double per_second) { fixed_ = per_second; }

  // When the next request may start, booked for the caller; nullopt (nothing booked) if that
  // is later than now + max_wait.
  std::optional<steady_time> reserve(steady_time now, std::chrono::nanoseconds max_wait);

  void on_success(steady_time now);
  // 429, 502, 503, 504, timeout. `retry_after`: the endpoint's hint, pauses all requests.
  void on_overload(steady_time now, std::optional<std::chrono::nanoseconds> retry_after = {});

  // The rate in force (min of fixed and adaptive), requests/s; nullopt: unlimited.
  std::optional<double> rate() const;
  // The adaptive part only; nullopt: not throttled.
  std::optional<double> adaptive_rate() const { return adaptive_; }
  steady_time paused_until() const { return paused_until_; }

 private:
  void count_start(steady_time now);
  double observed(steady_time now) const;

  throttle_options opts_;
  double fixed_ = 0;
  std::optional<double> adaptive_;
  double ceiling_ = 0;  // back to unlimited at this adaptive rate
  steady_time next_free_{};
  steady_time paused_until_{};
  steady_time last_decrease_{};
  steady_time last_increase_{};
  // Requests started per second, for the rate observed when throttling begins.
  steady_time bucket_start_{};
  std::uint64_t bucket_count_ = 0;
  std::uint64_t last_bucket_count_ = 0;
};

}  // namespace tresse::dispatcher::health
