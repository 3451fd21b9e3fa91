#include "tresse/receiver/replay_guard.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

namespace tresse::receiver {

// Ids by name for lookup, and by expiry so that purging and eviction take the oldest first.
struct memory_replay_guard::impl {
  using time_point = std::chrono::system_clock::time_point;
  using by_expiry_map = std::multimap<time_point, std::string_view>;

  std::size_t capacity;
  mutable std::mutex mutex;
  std::unordered_map<std::string, by_expiry_map::iterator> ids;
  by_expiry_map by_expiry;  // views into the keys of `ids` (node-based, so stable)

  void erase(by_expiry_map::iterator it) {
    const std::string_view id = it->second;
    by_expiry.erase(it);
    ids.erase(std::string(id));
  }
};

memory_replay_guard::memory_replay_guard(std::size_t capacity) : impl_(std::make_unique<impl>()) {
  impl_->capacity = std::max<std::size_t>(capacity, 1);
}

memory_replay_guard::~memory_replay_guard() = default;

bool memory_replay_guard::remember(std::string_view id, std::chrono::system_clock::time_point now,
                                   std::chrono::system_clock::time_point expires) {
  std::string key(id);
  const std::lock_guard<std::mutex> lock(impl_->mutex);
  while (!impl_->by_expiry.empty() && impl_->by_expiry.begin()->first <= now) {
    impl_->erase(impl_->by_expiry.begin());
  }
  if (impl_->ids.count(key) != 0) return false;
  if (expires <= now) return true;  // already stale: the timestamp check rejects it from now on
  if (impl_->ids.size() >= impl_->capacity) impl_->erase(impl_->by_expiry.begin());
  const auto [it, inserted] = impl_->ids.emplace(std::move(key), impl_->by_expiry.end());
  (void)inserted;
  it->second = impl_->by_expiry.emplace(expires, it->first);
  return true;
}

void memory_replay_guard::forget(std::string_view id) {
  const std::string key(id);
  const std::lock_guard<std::mutex> lock(impl_->mutex);
  const auto it = impl_->ids.find(key);
  if (it == impl_->ids.end()) return;
  impl_->by_expiry.erase(it->second);
  impl_->ids.erase(it);
}

std::size_t memory_replay_guard::size() const {
  const std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->ids.size();
}

}  // namespace tresse::receiver
