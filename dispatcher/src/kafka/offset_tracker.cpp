#include "kafka/offset_tracker.hpp"

#include <algorithm>

namespace tresse::dispatcher::kafka {

void offset_tracker::add(std::int32_t partition, std::int64_t offset) {
  partition_state& p = partitions_[partition];
  auto [it, inserted] = p.pending.try_emplace(offset, false);
  if (!inserted) {
    if (!it->second) return;  // already in flight
    it->second = false;
  }
  ++p.in_flight;
  ++in_flight_;
  p.next = std::max(p.next, offset + 1);
}

bool offset_tracker::done(std::int32_t partition, std::int64_t offset) {
  auto pit = partitions_.find(partition);
  if (pit == partitions_.end()) return false;
  partition_state& p = pit->second;
  auto it = p.pending.find(offset);
  if (it == p.pending.end() || it->second) return false;
  it->second = true;
  --p.in_flight;
  --in_flight_;
  // Finished messages at the front no longer hold the position back.
  while (!p.pending.empty() && p.pending.begin()->second) p.pending.erase(p.pending.begin());
  return true;
}

std::optional<std::int64_t> offset_tracker::position(std::int32_t partition) const {
  auto pit = partitions_.find(partition);
  if (pit == partitions_.end() || pit->second.next < 0) return std::nullopt;
  const partition_state& p = pit->second;
  return p.pending.empty() ? p.next : p.pending.begin()->first;
}

std::vector<std::pair<std::int32_t, std::int64_t>> offset_tracker::pending_commits() const {
  std::vector<std::pair<std::int32_t, std::int64_t>> out;
  for (const auto& [partition, p] : partitions_) {
    auto pos = position(partition);
    if (pos && *pos > p.committed) out.emplace_back(partition, *pos);
  }
  return out;
}

void offset_tracker::mark_committed(std::int32_t partition, std::int64_t position) {
  auto pit = partitions_.find(partition);
  if (pit != partitions_.end()) pit->second.committed = std::max(pit->second.committed, position);
}

std::int64_t offset_tracker::committed(std::int32_t partition) const {
  auto pit = partitions_.find(partition);
  return pit == partitions_.end() ? -1 : pit->second.committed;
}

void offset_tracker::drop(std::int32_t partition) {
  auto pit = partitions_.find(partition);
  if (pit == partitions_.end()) return;
  in_flight_ -= pit->second.in_flight;
  partitions_.erase(pit);
}

void offset_tracker::clear() {
  partitions_.clear();
  in_flight_ = 0;
}

std::size_t offset_tracker::in_flight(std::int32_t partition) const {
  auto pit = partitions_.find(partition);
  return pit == partitions_.end() ? 0 : pit->second.in_flight;
}

}  // namespace tresse::dispatcher::kafka
