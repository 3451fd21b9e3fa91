// Endpoints' health as this process last read it from Redis (health::add_read), kept for a
// second. The instances publish their reports every 2 s, so a read younger than that is as
// good as a fresh one, and the busiest answer of the API (GET /v1/webhooks, with `health` on
// every item) reads no health from Redis on most requests: the page's 25 HVALS, their JSON
// parses and a ZMSCORE happen about once a second per page instead of per request.
//
//   std::optional<health::read_cache::entries> got = cache.find_all(ids);   // null: read
//   if (!got) got = cache.put(ids, health::from_replies(replies, from, ids));
//   out += (*got)[i]->api_json(enabled, now);   // as health::append_api_json(merge(...))
//
// Thread-safe; bounded (cleared when full, like the API's page cache).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "health/merged.hpp"

namespace tresse::dispatcher::health {

class read_cache {
 public:
  using clock = std::chrono::steady_clock;
  struct entry {
    std::vector<endpoint_report> views;
    std::optional<wall_time> open_until;
    // The Management API's `health` object (append_api_json) at `now` for an endpoint enabled
    // or not: rendered when read, once a second, not for every item of every page.
    const std::string& api_json(bool enabled, wall_time now) const;

    entry(std::vector<endpoint_report> v, std::optional<wall_time> until);

   private:
    // Enabled before open_until (or with no open circuit), enabled after it, disabled.
    std::string open_text_, after_text_, disabled_text_;
  };
  using entries = std::vector<std::shared_ptr<const entry>>;  // per id, in the ids' order

  explicit read_cache(clock::duration max_age = std::chrono::seconds(1),
                      std::size_t max_entries = 100000)
      : max_age_(max_age), max_entries_(max_entries) {}

  // Every one of `ids`' entries if each was read less than max_age before `now`; else nullopt
  // (one stale id means one read of them all: it costs the same round trip).
  std::optional<entries> find_all(const std::vector<std::string>& ids,
                                  clock::time_point now = clock::now()) const;
  // Keeps `read` (from_replies for `ids`) as read at `now`, and returns it as entries.
  entries put(const std::vector<std::string>& ids, read_result read,
              clock::time_point now = clock::now());

 private:
  struct stamped {
    std::shared_ptr<const entry> value;
    clock::time_point read_at;
  };
  clock::duration max_age_;
  std::size_t max_entries_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, stamped> entries_;
};

}  // namespace tresse::dispatcher::health
