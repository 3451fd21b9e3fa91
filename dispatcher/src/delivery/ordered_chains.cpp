#include "delivery/ordered_chains.hpp"

#include <utility>

#include "delivery/ordered_memory.hpp"

namespace tresse::dispatcher {

namespace {

// A pass renews the numbering's TTL (ordered::sequence_ttl, 30 days) once a day of it is used.
constexpr auto ttl_renewal = std::chrono::hours(24);

}  // namespace

ordered_chains::chain* ordered_chains::fronted_by(std::string_view endpoint_id,
                                                  const event_meta& front) {
  auto it = chains_.find(ordered_memory::key_of(endpoint_id, front.resource));
  return it == chains_.end() || it->second.front != front.id ? nullptr : &it->second;
}

const ordered_chains::chain* ordered_chains::fronted_by(std::string_view endpoint_id,
                                                        const event_meta& front) const {
  auto it = chains_.find(ordered_memory::key_of(endpoint_id, front.resource));
  return it == chains_.end() || it->second.front != front.id ? nullptr : &it->second;
}

bool ordered_chains::hold(delivery& d, steady::time_point now) {
  auto it = chains_.find(ordered_memory::key_of(d.endpoint->id, d.meta->resource));
  if (it == chains_.end()) return false;
  it->second.waiting.push_back({std::move(d), now});
  ++held_;
  return true;
}

void ordered_chains::open(const delivery& front, steady::time_point now) {
  chains_.insert_or_assign(ordered_memory::key_of(front.endpoint->id, front.meta->resource),
                           chain{front.meta->id, {}, now, false});
}

const ordered_chains::held* ordered_chains::next(std::string_view endpoint_id,
                                                 const event_meta& front) const {
  const chain* c = fronted_by(endpoint_id, front);
  return c == nullptr || c->waiting.empty() ? nullptr : &c->waiting.front();
}

void ordered_chains::set_passing(std::string_view endpoint_id, const event_meta& front,
                                 bool passing) {
  if (chain* c = fronted_by(endpoint_id, front)) c->passing = passing;
}

delivery ordered_chains::advance(std::string_view endpoint_id, const event_meta& front) {
  chain* c = fronted_by(endpoint_id, front);
  delivery next = std::move(c->waiting.front().d);
  c->waiting.pop_front();
  --held_;
  c->front = next.meta->id;
  c->passing = false;
  return next;
}

std::unordered_map<std::string, ordered_chains::chain>::iterator ordered_chains::end_chain(
    std::unordered_map<std::string, chain>::iterator it, std::vector<delivery>& out) {
  out.reserve(it->second.waiting.size());
  for (auto& h : it->second.waiting) out.push_back(std::move(h.d));
  held_ -= out.size();
  return chains_.erase(it);
}

std::vector<delivery> ordered_chains::close(std::string_view endpoint_id, const event_meta& front) {
  std::vector<delivery> out;
  auto it = chains_.find(ordered_memory::key_of(endpoint_id, front.resource));
  if (it != chains_.end() && it->second.front == front.id) end_chain(it, out);
  return out;
}

std::vector<std::vector<delivery>> ordered_chains::close_stale(steady::time_point now,
                                                               std::chrono::milliseconds timeout) {
  std::vector<std::vector<delivery>> out;
  for (auto it = chains_.begin(); it != chains_.end();) {
    const chain& c = it->second;
    if (c.passing || c.waiting.empty() || now - c.waiting.front().since < timeout) {
      ++it;
      continue;
    }
    it = end_chain(it, out.emplace_back());
  }
  return out;
}

bool ordered_chains::ttl_due(std::string_view endpoint_id, const event_meta& front,
                             steady::time_point now) const {
  const chain* c = fronted_by(endpoint_id, front);
  return c == nullptr || now - c->ttl_set >= ttl_renewal;
}

void ordered_chains::ttl_renewed(std::string_view endpoint_id, const event_meta& front,
                                 steady::time_point now) {
  if (chain* c = fronted_by(endpoint_id, front)) c->ttl_set = now;
}

}  // namespace tresse::dispatcher
