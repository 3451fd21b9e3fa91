// What one shard's enters placed in the ordered queues (ordered_queue.hpp) and still waits, per
// endpoint and resource, in order: so that the release of a resource's head names the next
// waiting event in its first script call, and the script need not read that event's record
// and body back (one round trip per resource step instead of two, no HGETALL nor GETEX).
//
// Only a hint. The release script checks it against Redis (the waiting list's front, the one
// after, the front's number) and a rejected hint costs the Redis path (ask, then release),
// never order. A resource is remembered only from a moment its list was empty (an enter that
// made one of its events the head), so its memory is its whole list unless another instance
// (a rebalance, a lease run out) or the API (a requeue) changed it; the replies then correct
// it (released(): what Redis released is forgotten, with everything before it).
//
// Bounded: past `max_events` events, `max_bytes` of bodies or `max_resources` resources, it
// starts over (forgets everything; each resource is remembered again from its next head). Not
// per resource: what another instance moved on (after a rebalance) stays remembered until then,
// and only starting over frees it, so a memory full of such leftovers cannot keep every later
// resource on the Redis path. Shard thread only.
//
//   ordered_memory m;
//   m.headed(t1, 1);  m.waiting(t2, 2, now_ms);   // enter's replies
//   if (auto h = m.front(ep, res)) ... name h->task in the release ...
//   m.released(ep, res, h->task.sequence);         // the script released it: ours to deliver
//   m.scored(ep, res, after_queued_at_ms);          // and set the oldest-wait score to that
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "retry/store.hpp"

namespace tresse::dispatcher {

// Per shard (a namespace-scope aggregate: a nested one cannot be a default argument).
struct ordered_memory_limits {
  std::size_t max_events = 20000;
  std::size_t max_bytes = std::size_t{32} << 20;  // bodies and records, roughly
  std::size_t max_resources = 20000;
};

class ordered_memory {
 public:
  using limits = ordered_memory_limits;
  struct entry {
    retry::task task;  // as enter stored it, with its body and sequence
    std::int64_t queued_at_ms = 0;
  };
  using entry_ptr = std::shared_ptr<const entry>;

  explicit ordered_memory(limits l = {}) : limits_(l) {}

  // Enter's replies, in the order Redis placed them. `t` became its resource's head with number
  // `sequence`: nothing waits behind it yet.
  void headed(const retry::task& t, std::uint64_t sequence);
  void headed(std::string_view endpoint_id, std::string_view resource, std::uint64_t sequence);
  // `t` waits with number `sequence`, queued at `queued_at_ms`: remembered when its resource is.
  void waiting(const retry::task& t, std::uint64_t sequence, std::int64_t queued_at_ms);

  // The remembered front of the resource's waiting list, and the one after it; nullptr: none.
  entry_ptr front(std::string_view endpoint_id, std::string_view resource) const;
  entry_ptr second(std::string_view endpoint_id, std::string_view resource) const;

  // A release's outcome: the event numbered `sequence` is the head now (named from front(), or
  // read by the Redis path): it and what is remembered before it are gone from the list.
  void released(std::string_view endpoint_id, std::string_view resource, std::uint64_t sequence);
  // The resource's list was empty: nothing to remember until its next head.
  void forget(std::string_view endpoint_id, std::string_view resource);

  // The resource's score in the endpoint's oldest-wait zset as last written (ms), as far as
  // known: the first waiting event's enter sets it (a ZADD when its RPUSH made the list), a
  // release names it (scored) or leaves it unknown (0: after a release by the Redis path).
  std::int64_t score_ms(std::string_view endpoint_id, std::string_view resource) const;
  void scored(std::string_view endpoint_id, std::string_view resource, std::int64_t ms);

  // A map key for one endpoint's resource (ordered_chains.hpp's too).
  static std::string key_of(std::string_view endpoint_id, std::string_view resource);

  std::size_t events() const { return events_; }
  std::size_t bytes() const { return bytes_; }
  std::size_t resources() const { return resources_.size(); }

 private:
  struct resource_state {
    std::deque<entry_ptr> waiting;  // ascending sequence
    std::uint64_t head_seq = 0;     // the last head we know of: what is not after it is gone
    std::int64_t score_ms = 0;      // score_ms()
  };
  static std::size_t size_of(const entry& e);
  resource_state* find(std::string_view endpoint_id, std::string_view resource);
  const resource_state* find(std::string_view endpoint_id, std::string_view resource) const;
  void erase(std::unordered_map<std::string, resource_state>::iterator it);
  void clear();

  limits limits_;
  std::unordered_map<std::string, resource_state> resources_;
  std::size_t events_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace tresse::dispatcher
