#include "health/window.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace tresse::dispatcher::health {

outcome_window::outcome_window(std::size_t capacity) : ring_(std::max<std::size_t>(1, capacity)) {}

void outcome_window::record(bool success, std::optional<std::chrono::milliseconds> latency) {
  ring_[next_] = entry{success, latency ? latency->count() : -1};
  next_ = (next_ + 1) % ring_.size();
  filled_ = std::min(filled_ + 1, ring_.size());
}

double outcome_window::success_rate() const {
  if (filled_ == 0) return -1;
  std::size_t ok = 0;
  for (std::size_t i = 0; i < filled_; ++i) ok += ring_[i].success ? 1 : 0;
  return static_cast<double>(ok) / static_cast<double>(filled_);
}

std::optional<std::chrono::milliseconds> outcome_window::latency_percentile(double q) const {
  std::vector<std::int64_t> v;
  v.reserve(filled_);
  for (std::size_t i = 0; i < filled_; ++i) {
    if (ring_[i].latency_ms >= 0) v.push_back(ring_[i].latency_ms);
  }
  if (v.empty()) return std::nullopt;
  q = std::clamp(q, 0.0, 1.0);
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  rank = std::clamp<std::size_t>(rank, 1, v.size());
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(rank - 1), v.end());
  return std::chrono::milliseconds(v[rank - 1]);
}

}  // namespace tresse::dispatcher::health
