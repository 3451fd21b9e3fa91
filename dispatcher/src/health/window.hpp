// An endpoint's recent attempts, for its health: success rate and latency percentiles over the
// last `capacity` attempts (a fixed ring, so memory per endpoint is bounded).
//
//   outcome_window w;               // the last 256 attempts
//   w.record(true, 42ms);
//   w.success_rate();               // 1.0; -1 when empty
//   w.latency_percentile(0.99);     // over attempts that got an answer
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>

namespace tresse::dispatcher::health {

class outcome_window {
 public:
  explicit outcome_window(std::size_t capacity = 256);

  // `latency`: empty when there was no answer (timeout, refused).
  void record(bool success, std::optional<std::chrono::milliseconds> latency);

  std::size_t size() const { return filled_; }
  double success_rate() const;  // -1 when nothing recorded
  // Nearest-rank percentile (q in 0..1) of the recorded latencies; empty when none.
  std::optional<std::chrono::milliseconds> latency_percentile(double q) const;

 private:
  struct entry {
    bool success = false;
    std::int64_t latency_ms = -1;  // -1: no answer
  };
  std::vector<entry> ring_;
  std::size_t next_ = 0;
  std::size_t filled_ = 0;
};

}  // namespace tresse::dispatcher::health
