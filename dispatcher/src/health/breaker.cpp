#include "health/breaker.hpp"

#include <algorithm>

namespace tresse::dispatcher::health {

breaker::breaker(breaker_options opts) : opts_(opts), cool_down_(opts.cool_down) {
  if (opts_.max_cool_down < opts_.cool_down) opts_.max_cool_down = opts_.cool_down;
}

breaker::state breaker::current(wall_time now) const {
  if (!open_) return state::closed;
  return now < open_until_ ? state::open : state::half_open;
}

breaker::verdict breaker::admit(wall_time now) {
  switch (current(now)) {
    case state::closed:
      return verdict::send;
    case state::open:
      return verdict::defer;
    case state::half_open:
      if (probing_) return verdict::defer;
      probing_ = true;
      return verdict::probe;
  }
  return verdict::send;
}

void breaker::probe_abandoned() { probing_ = false; }

void breaker::open(wall_time now) {
  open_ = true;
  open_until_ = now + cool_down_;
  probing_ = false;
  failures_.clear();
}

bool breaker::on_failure(wall_time now) {
  if (opts_.failure_threshold == 0) return false;
  if (open_) {
    if (!probing_) return false;  // a request sent before it opened: already counted
    cool_down_ = std::min(cool_down_ * 2, opts_.max_cool_down);
    open(now);
    return true;
  }
  failures_.push_back(now);
  while (!failures_.empty() && failures_.front() + opts_.window < now) failures_.pop_front();
  while (failures_.size() > opts_.failure_threshold) failures_.pop_front();
  if (failures_.size() < opts_.failure_threshold) return false;
  open(now);
  return true;
}

bool breaker::on_success(wall_time /*now*/) {
  failures_.clear();
  if (!open_) return false;
  // Any success proves the endpoint answers again, the probe's or a late one.
  open_ = false;
  probing_ = false;
  cool_down_ = opts_.cool_down;
  return true;
}

void breaker::adopt_open(wall_time until) {
  if (open_ && until <= open_until_) return;
  open_ = true;
  open_until_ = until;
  failures_.clear();
}

void breaker::adopt_closed() {
  if (!open_) return;
  open_ = false;
  probing_ = false;
  cool_down_ = opts_.cool_down;
  failures_.clear();
}

const char* to_string(breaker::state s) {
  switch (s) {
    case breaker::state::closed:
      return "closed";
    case breaker::state::open:
      return "open";
    case breaker::state::half_open:
      return "half_open";
  }
  return "unknown";
}

}  // namespace tresse::dispatcher::health
