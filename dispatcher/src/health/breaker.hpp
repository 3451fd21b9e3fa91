// A per-endpoint circuit breaker, the pure state machine (no I/O, time passed in, so tests run
// on an injected clock). health/breaker_store.hpp shares it across instances through Redis.
//
//   closed ──(failure_threshold failures within window, no success between)──► open
//   open ──(cool_down passed)──► half_open: one probe request is let through
//   half_open ──probe succeeds──► closed (cool_down back to its base)
//   half_open ──probe fails──► open again, cool_down doubled (up to max_cool_down)
//
//   breaker b({.failure_threshold = 10, .window = 1min, .cool_down = 30s});
//   switch (b.admit(now)) {
//     case breaker::verdict::send:  ... send; b.on_success(now) or b.on_failure(now);
//     case breaker::verdict::probe: ... win the shared lease, send, report as above
//                                   (or b.probe_abandoned() if no request was made);
//     case breaker::verdict::defer: ... to the retry schedule, no request (b.open_until());
//   }
//
// Wall-clock time (system_clock) because instances share open_until through Redis.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>

namespace tresse::dispatcher::health {

using wall_time = std::chrono::system_clock::time_point;

struct breaker_options {
  std::size_t failure_threshold = 10;  // 0: the breaker never opens
  std::chrono::milliseconds window = std::chrono::minutes(1);
  std::chrono::milliseconds cool_down = std::chrono::seconds(30);
  std::chrono::milliseconds max_cool_down = std::chrono::minutes(10);
};

class breaker {
 public:
  enum class state { closed, open, half_open };
  enum class verdict { send, probe, defer };

  explicit breaker(breaker_options opts = {});

  state current(wall_time now) const;
  // May a request go now? `probe` marks this instance's probe as in flight: other admits defer
  // until on_success / on_failure / probe_abandoned.
  verdict admit(wall_time now);
  void probe_abandoned();

  // A request's outcome. Returns true when this failure opened (or reopened) the circuit.
  bool on_failure(wall_time now);
  // Returns true when this success closed the circuit.
  bool on_success(wall_time now);

  // Another instance's view, from the shared store: open until `until` (ignored if not later
  // than what this breaker already has) / closed.
  void adopt_open(wall_time until);
  void adopt_closed();

  wall_time open_until() const { return open_until_; }
  std::chrono::milliseconds current_cool_down() const { return cool_down_; }
  bool probing() const { return probing_; }

 private:
  void open(wall_time now);

  breaker_options opts_;
  bool open_ = false;  // open or half_open, by open_until_
  wall_time open_until_{};
  std::chrono::milliseconds cool_down_;
  bool probing_ = false;
  std::deque<wall_time> failures_;  // recent, at most failure_threshold
};

const char* to_string(breaker::state s);

}  // namespace tresse::dispatcher::health
