#include "delivery/shard_map.hpp"

#include <algorithm>

namespace tresse::dispatcher {

shard_map::shard_map(std::size_t shards) : owned_(std::max<std::size_t>(shards, 1), 0) {}

std::size_t shard_map::of(std::string_view endpoint_id) {
  if (owned_.size() == 1) return 0;
  std::lock_guard lock(mu_);
  if (auto it = owner_.find(endpoint_id); it != owner_.end()) return it->second;
  const auto least = static_cast<std::size_t>(
      std::min_element(owned_.begin(), owned_.end()) - owned_.begin());
  owner_.emplace(endpoint_id, least);
  ++owned_[least];
  return least;
}

void shard_map::forget(std::string_view endpoint_id) {
  std::lock_guard lock(mu_);
  auto it = owner_.find(endpoint_id);
  if (it == owner_.end()) return;
  --owned_[it->second];
  owner_.erase(it);
}

}  // namespace tresse::dispatcher
