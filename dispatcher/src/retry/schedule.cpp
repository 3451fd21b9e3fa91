#include "retry/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace tresse::dispatcher::retry {
namespace {

double default_uniform() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

}  // namespace

schedule::schedule(schedule_options opts, uniform_rng rng)
    : opts_(std::move(opts)), rng_(rng ? std::move(rng) : uniform_rng(default_uniform)) {
  opts_.jitter = std::clamp(opts_.jitter, 0.0, 1.0);
}

milliseconds schedule::max_delay() const {
  if (opts_.delays.empty()) return milliseconds(0);
  return *std::max_element(opts_.delays.begin(), opts_.delays.end());
}

milliseconds schedule::total_span() const {
  milliseconds sum(0);
  for (auto d : opts_.delays) sum += d;
  return milliseconds(static_cast<milliseconds::rep>(std::ceil(sum.count() * (1 + opts_.jitter))));
}

std::optional<milliseconds> schedule::next_delay(int attempts_so_far,
                                                 std::optional<milliseconds> retry_after) const {
  if (attempts_so_far < 1) attempts_so_far = 1;
  auto index = static_cast<std::size_t>(attempts_so_far - 1);
  if (index >= opts_.delays.size()) return std::nullopt;
  double u = std::clamp(rng_(), 0.0, 1.0);
  double factor = 1.0 + opts_.jitter * (2.0 * u - 1.0);
  auto delay = milliseconds(
      static_cast<milliseconds::rep>(std::llround(opts_.delays[index].count() * factor)));
  if (retry_after) delay = std::max(delay, std::min(*retry_after, max_delay()));
  return std::max(delay, milliseconds(0));
}

}  // namespace tresse::dispatcher::retry
