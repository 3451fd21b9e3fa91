#include "delivery/ordered_memory.hpp"

namespace tresse::dispatcher {

std::string ordered_memory::key_of(std::string_view endpoint_id, std::string_view resource) {
  // Neither has a space (ids and resources are [A-Za-z0-9_-]).
  std::string key;
  key.reserve(endpoint_id.size() + 1 + resource.size());
  key.append(endpoint_id).push_back(' ');
  key.append(resource);
  return key;
}

std::size_t ordered_memory::size_of(const entry& e) {
  const retry::task& t = e.task;
  return sizeof(entry) + t.body.size() + t.event_id.size() + t.endpoint_id.size() +
         t.business_id.size() + t.event_type.size() + t.last_error.size() + t.source.topic.size() +
         t.source.key.size() + t.resource.size();
}

ordered_memory::resource_state* ordered_memory::find(std::string_view endpoint_id,
                                                     std::string_view resource) {
  auto it = resources_.find(key_of(endpoint_id, resource));
  return it == resources_.end() ? nullptr : &it->second;
}

const ordered_memory::resource_state* ordered_memory::find(std::string_view endpoint_id,
                                                           std::string_view resource) const {
  auto it = resources_.find(key_of(endpoint_id, resource));
  return it == resources_.end() ? nullptr : &it->second;
}

void ordered_memory::erase(std::unordered_map<std::string, resource_state>::iterator it) {
  for (const auto& e : it->second.waiting) {
    --events_;
    bytes_ -= size_of(*e);
  }
  resources_.erase(it);
}

void ordered_memory::headed(const retry::task& t, std::uint64_t sequence) {
  headed(t.endpoint_id, t.resource, sequence);
}

void ordered_memory::headed(std::string_view endpoint_id, std::string_view resource,
                            std::uint64_t sequence) {
  std::string key = key_of(endpoint_id, resource);
  auto it = resources_.find(key);
  if (it != resources_.end() && it->second.waiting.empty()) {  // a pass along its chain
    it->second = resource_state{{}, sequence, 0};
    return;
  }
  if (it != resources_.end()) erase(it);  // what it held was before this head: gone
  if (resources_.size() >= limits_.max_resources) clear();
  resources_[std::move(key)].head_seq = sequence;
}

void ordered_memory::waiting(const retry::task& t, std::uint64_t sequence,
                             std::int64_t queued_at_ms) {
  auto it = resources_.find(key_of(t.endpoint_id, t.resource));
  if (it == resources_.end()) return;
  resource_state& s = it->second;
  // Released already (a release's reply came before this enter's), or out of order (never
  // expected): not remembered, and in the second case the resource is forgotten.
  if (sequence <= s.head_seq) return;
  if (!s.waiting.empty() && sequence <= s.waiting.back()->task.sequence) {
    erase(it);
    return;
  }
  auto e = std::make_shared<entry>(entry{t, queued_at_ms});
  e->task.sequence = sequence;
  const std::size_t size = size_of(*e);
  if (events_ + 1 > limits_.max_events || bytes_ + size > limits_.max_bytes) {
    clear();
    return;
  }
  // Its list was empty (remembered from its head on): the enter scored it now (a ZADD when its
  // RPUSH made the list).
  if (s.waiting.empty()) s.score_ms = queued_at_ms;
  s.waiting.push_back(std::move(e));
  ++events_;
  bytes_ += size;
}

ordered_memory::entry_ptr ordered_memory::front(std::string_view endpoint_id,
                                                std::string_view resource) const {
  const resource_state* s = find(endpoint_id, resource);
  return s == nullptr || s->waiting.empty() ? nullptr : s->waiting.front();
}

ordered_memory::entry_ptr ordered_memory::second(std::string_view endpoint_id,
                                                 std::string_view resource) const {
  const resource_state* s = find(endpoint_id, resource);
  return s == nullptr || s->waiting.size() < 2 ? nullptr : s->waiting[1];
}

void ordered_memory::released(std::string_view endpoint_id, std::string_view resource,
                              std::uint64_t sequence) {
  resource_state* s = find(endpoint_id, resource);
  if (s == nullptr) return;
  while (!s->waiting.empty() && s->waiting.front()->task.sequence <= sequence) {
    --events_;
    bytes_ -= size_of(*s->waiting.front());
    s->waiting.pop_front();
  }
  if (sequence > s->head_seq) s->head_seq = sequence;
}

std::int64_t ordered_memory::score_ms(std::string_view endpoint_id,
                                      std::string_view resource) const {
  const resource_state* s = find(endpoint_id, resource);
  return s == nullptr ? 0 : s->score_ms;
}

void ordered_memory::scored(std::string_view endpoint_id, std::string_view resource,
                            std::int64_t ms) {
  if (resource_state* s = find(endpoint_id, resource)) s->score_ms = ms;
}

void ordered_memory::clear() {
  resources_.clear();
  events_ = 0;
  bytes_ = 0;
}

void ordered_memory::forget(std::string_view endpoint_id, std::string_view resource) {
  auto it = resources_.find(key_of(endpoint_id, resource));
  if (it != resources_.end()) erase(it);
}

}  // namespace tresse::dispatcher
