// /metrics gauges of the ordered queues (delivery/ordered_queue.hpp), over every instance:
//   tresse_ordered_waiting               events waiting behind their resource's head
//   tresse_ordered_oldest_wait_seconds   how long the longest-waiting of them has waited (0: none)
// Read from Redis when scraped, as tresse_retry_backlog is: one pipeline of two commands per
// endpoint whose ordering is per_resource in the registry snapshot (no SCAN), shared by both
// gauges for a second. -1 while Redis cannot be read.
#pragma once

#include <cstddef>
#include <memory>

#include "admin/metrics.hpp"
#include "redis/client.hpp"
#include "registry/cache.hpp"

namespace tresse::dispatcher {

// `endpoints` and `redis` must outlive `m`'s scrapes; `retry_shards`: retry::store::shards().
void register_ordered_gauges(metrics& m, const registry::cache& endpoints,
                             std::shared_ptr<redis::client> redis, std::size_t retry_shards);

}  // namespace tresse::dispatcher
