// Delivery stats per endpoint and minute, for GET /v1/webhooks/{id}/stats and the console's
// charts: delivered and failed attempts, and their latencies in a fixed log-scale histogram
// (latency_histogram) that adds up across instances and minutes, so that percentiles over any
// window and any number of dispatchers come from one sum.
//
// The delivery path adds each attempt to its shard's accumulator (no Redis, no lock, and no
// allocation but a new endpoint's or minute's entry); about once a second the shard takes what
// gathered (take()) and sends it as one pipeline: HINCRBY per non-zero field of one hash per
// endpoint-minute (redis/keys.hpp: endpoint_minute_stats) and a PEXPIRE, which is what merges
// the instances.
//
//   stats::accumulator acc;
//   acc.add("we_1", attempt_at, true, 42ms);         // no Redis, no lock
//   redis::request r = acc.take(std::chrono::hours(48));   // empty commands: nothing to send
//
// Hash fields: "d" delivered, "f" failed, "h<i>" attempts in latency bucket i. Every endpoint's
// counts are also summed per minute into one hash (keys.hpp: all_minute_stats, d and f only),
// for the operators' view of the delivery rate.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redis/client.hpp"
#include "redis/request.hpp"
#include "tresse/common/string_map.hpp"

namespace tresse::dispatcher::stats {

// Upper bounds (ms, inclusive) of the latency buckets, about x1.41 apart (two per doubling);
// the last bucket takes everything longer. A percentile is reported as its bucket's bound, at
// most 41 % above the true value.
inline constexpr std::array<std::int64_t, 36> latency_bounds_ms = {
    1,    2,    3,    4,    6,    8,     11,    16,    23,    32,    45,     64,
    91,   128,  181,  256,  362,  512,   724,   1024,  1448,  2048,  2896,   4096,
    5793, 8192, 11585, 16384, 23170, 32768, 46341, 65536, 92682, 131072, 185364, 262144};
inline constexpr std::size_t latency_buckets = latency_bounds_ms.size() + 1;  // + the overflow

struct latency_histogram {
  std::array<std::int64_t, latency_buckets> counts{};

  static std::size_t bucket_of(std::chrono::milliseconds latency);
  void add(std::chrono::milliseconds latency, std::int64_t n = 1) {
    counts[bucket_of(latency)] += n;
  }
  void merge(const latency_histogram& o);
  std::int64_t total() const;
  // The bound of the bucket holding the q-th quantile (0 < q <= 1); nullopt when empty. The
  // overflow bucket reports the last bound.
  std::optional<std::int64_t> quantile_ms(double q) const;
};

struct minute_counts {
  std::int64_t delivered = 0;
  std::int64_t failed = 0;
  latency_histogram latency;

  void merge(const minute_counts& o);
  bool empty() const { return delivered == 0 && failed == 0; }
};

// unix minutes (floor) of `t`.
std::int64_t minute_of(std::chrono::system_clock::time_point t);

// The counts a minute's hash holds (HGETALL's flat reply); unknown fields ignored.
minute_counts from_hash(const redis::reply& r);

class accumulator {
 public:
  // `latency`: none when no response came (a timeout, a refused connection): such an attempt
  // counts as failed and stays out of the percentiles, which are of responses.
  void add(std::string_view endpoint_id, std::chrono::system_clock::time_point at,
           bool succeeded, std::optional<std::chrono::milliseconds> latency);
  bool empty() const { return pending_ == 0; }
  // What gathered since the last take, as one pipeline whose hashes expire after `ttl`; the
  // accumulator is empty again.
  redis::request take(std::chrono::milliseconds ttl);

 private:
  // HINCRBY of m's non-zero fields into `key`, and its PEXPIRE.
  static void add_commands(redis::command_list& c, const std::string& key, const minute_counts& m,
                           const std::string& ttl_ms);
  struct minute_entry {
    std::int64_t minute;
    minute_counts counts;
  };
  // Endpoint -> the minutes it had attempts in since the last take (usually one, two at a
  // minute's turn: a short vector, searched from the newest).
  string_map<std::vector<minute_entry>> pending_by_endpoint_;
  std::size_t pending_ = 0;  // attempts added since the last take
};

}  // namespace tresse::dispatcher::stats
