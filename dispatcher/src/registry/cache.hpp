// An in-memory snapshot of every endpoint, so routing an event costs no Redis round trip.
// A background thread polls the registry's version counter every refresh_interval and reloads
// the snapshot when it changed; a running dispatcher sees an endpoint change within about a
// second. Every full_refresh_interval it reloads even when the version did not change: a writer
// that died between a change and its version bump (registry/store.hpp) delays the change by
// that much at most, not forever. While Redis is unreachable the last snapshot keeps serving (a warning is logged once
// per outage).
//
//   registry::cache endpoints(store, {.refresh_interval = std::chrono::milliseconds(500)});
//   endpoints.start();
//   for (const auto& ep : endpoints.matching(ev.business_id, ev.type, ev.livemode)) deliver(*ep);
//
// matching() and find() are thread-safe and cheap (a shared_ptr copy under a mutex).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "registry/endpoint.hpp"
#include "registry/store.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::registry {

struct cache_options {
  std::chrono::milliseconds refresh_interval{500};
  std::chrono::milliseconds full_refresh_interval{60000};
};

class cache {
 public:
  explicit cache(store& source, cache_options opts = {});
  ~cache();  // stops the thread
  cache(const cache&) = delete;
  cache& operator=(const cache&) = delete;

  // Loads once (returning the error if Redis is unreachable, the cache then serves nothing
  // until a later refresh succeeds) and starts the background refresh.
  status start();
  void stop();

  // Reloads now if the version changed (or nothing was loaded yet). Returns the error when
  // Redis could not be read; the previous snapshot stays in place.
  status refresh();

  // Enabled endpoints of `business_id` in the event's mode whose patterns match `event_type`.
  std::vector<std::shared_ptr<const endpoint>> matching(std::string_view business_id,
                                                        std::string_view event_type,
                                                        bool livemode) const;
  // Any endpoint by id, enabled or not; nullptr when unknown.
  std::shared_ptr<const endpoint> find(std::string_view id) const;

  // Every endpoint, enabled or not, in no particular order (the operators' view).
  std::vector<std::shared_ptr<const endpoint>> all() const;

  // The registry version the snapshot was loaded at; -1 before the first load.
  std::int64_t version() const;
  std::size_t size() const;

 private:
  struct snapshot {
    std::int64_t version = -1;
    std::unordered_map<std::string, std::shared_ptr<const endpoint>> by_id;
    std::unordered_map<std::string, std::vector<std::shared_ptr<const endpoint>>> by_business;
  };

  std::shared_ptr<const snapshot> current() const;
  void run();

  store& source_;
  cache_options opts_;
  mutable std::mutex mu_;
  std::shared_ptr<const snapshot> snapshot_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool failing_ = false;  // only touched by refresh(), under refresh_mu_
  std::chrono::steady_clock::time_point loaded_at_;  // likewise
  std::mutex refresh_mu_;
  std::thread thread_;
};

}  // namespace tresse::dispatcher::registry
