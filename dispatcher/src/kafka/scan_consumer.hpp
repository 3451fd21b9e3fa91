// What the replay scans share: a consumer of their own (assigned partitions, no group joined,
// never committing), and the topic's partitions with their watermarks.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tresse/common/kafka.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::kafka {

struct window_scan {
  std::string brokers;
  std::string topic;
  tresse::kafka::config_map extra;  // librdkafka overrides
  // How long to wait for metadata, offset look-ups and each fetch before giving up (transient).
  std::chrono::milliseconds timeout = std::chrono::seconds(30);
};

// A consumer handle for `scan`: live delivery's group and offsets are never touched.
result<tresse::kafka::handle_ptr> make_scan_consumer(const window_scan& scan);

struct partition_range {
  std::int32_t partition = 0;
  std::int64_t low = 0;   // the log start: the first offset still held
  std::int64_t high = 0;  // the next offset to be written
};

// Every partition of scan.topic with its watermarks, as the brokers report them now.
result<std::vector<partition_range>> partition_ranges(rd_kafka_t* rk, const window_scan& scan);

}  // namespace tresse::dispatcher::kafka
