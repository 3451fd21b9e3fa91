// Which Kafka offsets may be committed: the low watermark of finished work per partition.
//
// Messages finish out of order (one slow endpoint must not hold up the others), but a Kafka
// commit is a single position per partition meaning "everything before this is done". So the
// committable position is the first offset still in flight, or one past the highest offset
// seen when nothing is. Offsets are taken as they arrive, so gaps (compaction, transaction
// markers) need no special case. Not thread-safe: the consumer guards it.
//
//   offset_tracker t;
//   t.add(0, 10); t.add(0, 11); t.add(0, 12);
//   t.done(0, 12);            // position(0) == 10: offset 10 is still in flight
//   t.done(0, 10);            // position(0) == 11
//   t.done(0, 11);            // position(0) == 13: commit 13
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace tresse::dispatcher::kafka {

class offset_tracker {
 public:
  // A message was handed out. Offsets within a partition are expected to increase; an offset
  // at or below one already tracked (a redelivery after a seek) is tracked again.
  void add(std::int32_t partition, std::int64_t offset);

  // The message's work is finished. Returns false if it is not tracked (already done, or its
  // partition was dropped in a rebalance).
  bool done(std::int32_t partition, std::int64_t offset);

  // The offset to commit for `partition` (the next one to read), if any message was seen.
  std::optional<std::int64_t> position(std::int32_t partition) const;

  // Partitions whose position moved past what was last marked committed, with that position.
  std::vector<std::pair<std::int32_t, std::int64_t>> pending_commits() const;
  void mark_committed(std::int32_t partition, std::int64_t position);
  // The last position marked committed; -1 if none.
  std::int64_t committed(std::int32_t partition) const;

  // Forgets a partition (revoked): its unfinished messages will be redelivered elsewhere.
  void drop(std::int32_t partition);
  void clear();

  std::size_t in_flight() const { return in_flight_; }
  std::size_t in_flight(std::int32_t partition) const;

 private:
  struct partition_state {
    std::map<std::int64_t, bool> pending;  // offset -> done, only from the first unfinished on
    std::int64_t next = -1;                // one past the highest offset seen
    std::int64_t committed = -1;
    std::size_t in_flight = 0;
  };
  std::map<std::int32_t, partition_state> partitions_;
  std::size_t in_flight_ = 0;
};

}  // namespace tresse::dispatcher::kafka
