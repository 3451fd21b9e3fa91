#include "health/throttle.hpp"

#include <algorithm>

namespace tresse::dispatcher::health {
namespace {

using namespace std::chrono_literals;
constexpr auto decrease_guard = 200ms;

std::chrono::nanoseconds interval_of(double per_second) {
  return std::chrono::nanoseconds(static_cast<std::int64_t>(1e9 / per_second));
}

}  // namespace

throttle::throttle(throttle_options opts) : opts_(opts) {
  if (!(opts_.min_rate > 0)) opts_.min_rate = 1;
  if (!(opts_.decrease > 0 && opts_.decrease < 1)) opts_.decrease = 0.5;
  if (!(opts_.increase > 0)) opts_.increase = 1;
}

std::optional<double> throttle::rate() const {
  std::optional<double> r = adaptive_;
  if (fixed_ > 0) r = r ? std::min(*r, fixed_) : fixed_;
  return r;
}

void throttle::count_start(steady_time now) {
  if (now - bucket_start_ >= 1s) {
    last_bucket_count_ = now - bucket_start_ < 2s ? bucket_count_ : 0;
    bucket_start_ = now;
    bucket_count_ = 0;
  }
  ++bucket_count_;
}

double throttle::observed(steady_time now) const {
  const auto elapsed = now - bucket_start_;
  if (elapsed < 1s) return static_cast<double>(std::max(last_bucket_count_, bucket_count_));
  if (elapsed < 2s) return static_cast<double>(bucket_count_);  // the last whole second
  return 0;
}

std::optional<steady_time> throttle::reserve(steady_time now, std::chrono::nanoseconds max_wait) {
  steady_time at = std::max(now, paused_until_);
  const auto r = rate();
  if (r) at = std::max(at, next_free_);
  if (at > now + max_wait) return std::nullopt;
  if (r) next_free_ = at + interval_of(*r);
  count_start(at);
  return at;
}

void throttle::on_success(steady_time now) {
  if (!adaptive_) return;
  // Additive increase, by the time elapsed (at most a second's worth per success).
  auto elapsed = std::min<std::chrono::nanoseconds>(now - last_increase_, 1s);
  last_increase_ = now;
  *adaptive_ += opts_.increase * std::chrono::duration<double>(elapsed).count();
  if (*adaptive_ >= ceiling_) adaptive_.reset();
}

void throttle::on_overload(steady_time now, std::optional<std::chrono::nanoseconds> retry_after) {
  if (retry_after && *retry_after > 0ns) {
    paused_until_ = std::max(
        paused_until_, now + std::min<std::chrono::nanoseconds>(*retry_after, opts_.max_pause));
  }
  if (adaptive_ && now - last_decrease_ < decrease_guard) return;
  double base = adaptive_ ? *adaptive_ : std::max(observed(now), opts_.min_rate);
  if (!adaptive_) ceiling_ = std::max(2 * base, 2 * opts_.min_rate);
  adaptive_ = std::max(opts_.min_rate, base * opts_.decrease);
  last_decrease_ = now;
  last_increase_ = now;
}

}  // namespace tresse::dispatcher::health
