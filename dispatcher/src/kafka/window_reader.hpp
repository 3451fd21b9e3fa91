// Reads the messages of a topic whose Kafka timestamps fall in a window [since, until), for
// replays: a consumer of its own with assigned partitions (no consumer group, never commits),
// so live delivery's group and offsets are not touched.
//
// Per partition it starts at offsets_for_times(since) and stops at offsets_for_times(until),
// or at the high watermark taken when the scan began (messages produced later are not part of
// the window). Timestamps are also checked message by message, so a broker that cannot look
// offsets up by time (then the scan starts at the log start) gives the same result, only
// slower.
//
//   kafka::window_scan scan{.brokers = "…", .topic = "tresse.events"};
//   auto st = kafka::read_window(scan, since_ms, until_ms, [](const kafka::message& m) {
//     ...; return true;  // false stops the scan
//   });
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "kafka/consumer.hpp"
#include "kafka/scan_consumer.hpp"
#include "tresse/common/kafka.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::kafka {

// Calls `on_message` for every message of the window, partition by partition, in offset
// order. Returns ok when every partition was read to its end (or `on_message` said stop).
status read_window(const window_scan& scan, std::int64_t since_ms, std::int64_t until_ms,
                   const std::function<bool(const message&)>& on_message);

}  // namespace tresse::dispatcher::kafka
