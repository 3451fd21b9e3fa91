// The ordered events a shard holds in memory behind their resource's head while that head is in
// flight here: not entered into Redis, not handed off (their Kafka offsets wait, as an
// unordered delivery's wait while it queues for a lane slot). When the head is delivered, its
// release makes the first of them the head in the same script (ordered::pass_call): one call an
// event, with no waiting record, list entry or lease. Where that cannot be (the head failed,
// was deferred or dead-lettered, something waits in Redis, the hold lasted a queue timeout),
// what is held is entered, in order, and waits in Redis as any ordered event does.
//
// A chain is fronted by one event (the one being entered or attempted); every later event of
// its endpoint and resource that reaches the shard while it exists joins it, in arrival (Kafka)
// order. Shard thread only; pure bookkeeping (settle.cpp does the Redis side).
//
//   if (chains.hold(d, now)) return;        // behind an in-flight head: settle will see to it
//   chains.open(d, now);                    // d fronts the chain; enter it
//   ... d delivered ...
//   if (chains.next(ep, *d.meta)) d2 = chains.advance(ep, *d.meta);   // passed to it
//   else held = chains.close(ep, *d.meta);                           // entered, in order
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "delivery/context.hpp"

namespace tresse::dispatcher {

class ordered_chains {
 public:
  using steady = std::chrono::steady_clock;
  struct held {
    delivery d;
    steady::time_point since;
  };

  // `d` (ordered, with a resource) joins its resource's chain if one exists: moved from, true.
  bool hold(delivery& d, steady::time_point now);
  // `front` fronts a new chain of its resource (none exists: hold() said so).
  void open(const delivery& front, steady::time_point now);
  // The first event held behind `front`, when `front` fronts its resource's chain; else nullptr.
  const held* next(std::string_view endpoint_id, const event_meta& front) const;
  // A pass is under way for `front`'s chain: close_stale() leaves it alone.
  void set_passing(std::string_view endpoint_id, const event_meta& front, bool passing);
  // `front` passed to next(front): that one fronts the chain now, and is returned. Only while
  // next(front) is non-null; nothing closes a chain whose pass is under way (set_passing).
  delivery advance(std::string_view endpoint_id, const event_meta& front);
  // The chain `front` fronts ends: what it held, in order (nothing when it fronts none).
  std::vector<delivery> close(std::string_view endpoint_id, const event_meta& front);
  // The chains whose first held event waited `timeout` or more (not while passing), ended: what
  // each held, in order.
  std::vector<std::vector<delivery>> close_stale(steady::time_point now,
                                                 std::chrono::milliseconds timeout);
  // The resource's numbering was given its TTL at `since` (the front's enter, or a pass that
  // renewed it): whether a pass now should renew it (a day of the TTL used), and that it did.
  bool ttl_due(std::string_view endpoint_id, const event_meta& front, steady::time_point now) const;
  void ttl_renewed(std::string_view endpoint_id, const event_meta& front, steady::time_point now);

  std::size_t held_events() const { return held_; }
  std::size_t chains() const { return chains_.size(); }

 private:
  struct chain {
    std::string front;  // event id
    std::deque<held> waiting;
    steady::time_point ttl_set;
    bool passing = false;
  };
  chain* fronted_by(std::string_view endpoint_id, const event_meta& front);
  // Erases the chain at `it`, moving what it held into `out` (in order); the next iterator.
  std::unordered_map<std::string, chain>::iterator end_chain(
      std::unordered_map<std::string, chain>::iterator it, std::vector<delivery>& out);
  const chain* fronted_by(std::string_view endpoint_id, const event_meta& front) const;

  std::unordered_map<std::string, chain> chains_;
  std::size_t held_ = 0;
};

}  // namespace tresse::dispatcher
