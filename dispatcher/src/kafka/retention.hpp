// What the events topic still holds, for replays: the earliest time a replay window may begin
// without missing events Kafka has already deleted.
//
// A partition whose log start is past offset 0 lost its beginning (retention, or DeleteRecords);
// the timestamp of the first message it still holds bounds what a replay can find there. The
// latest of those bounds is the earliest replayable time: before it, some partition has lost
// messages. A topic that never lost a message has no bound. This is exact, and works the same
// on a real broker and on librdkafka's mock cluster (2.0), which can neither describe a topic's
// `retention.ms` (DescribeConfigs gets no answer) nor look offsets up by time, but trims its
// logs (past 5 MiB per partition) and reports the log start like a broker. A partition emptied
// whole (log start == end > 0) lost messages of times nobody can tell: it gives no bound and is
// listed, so the caller can say so.
//
//   kafka::retention_cache retention({.brokers = "…", .topic = "tresse.events"}, 1min);
//   auto r = retention.get();  // one look-up a minute at most, shared by threads
//   if (r && r->earliest_ms && since_ms < *r->earliest_ms) { /* refuse the window */ }
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "kafka/scan_consumer.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::kafka {

struct retained {
  std::optional<std::int64_t> earliest_ms;  // nullopt: no partition lost a message it still shows
  std::vector<std::int32_t> emptied;        // partitions emptied whole (lost times unknown)
};

// Looks it up now: metadata, watermarks, and one fetch per partition that lost messages.
// Transient errors when Kafka does not answer within scan.timeout.
result<retained> earliest_retained(const window_scan& scan);

// earliest_retained(), remembered for `max_age`; safe to call from several threads (one looks
// up, the others wait for its answer). A failure is remembered for a tenth of that (at most
// 10 s), so that callers do not each wait out a timeout while Kafka is down.
class retention_cache {
 public:
  retention_cache(window_scan scan, std::chrono::milliseconds max_age);
  result<retained> get();

 private:
  window_scan scan_;
  std::chrono::milliseconds max_age_;
  std::mutex mutex_;
  result<retained> last_ = fail(error_kind::transient, "not looked up yet");
  std::chrono::steady_clock::time_point last_at_;
  bool looked_up_ = false;
};

}  // namespace tresse::dispatcher::kafka
