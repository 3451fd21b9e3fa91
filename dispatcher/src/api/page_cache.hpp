// Pages of GET /v1/webhooks as last rendered, so that the busiest answer of the API neither
// runs the page script (a Lua call reading every record of the page) nor renders the same
// endpoints again while nothing changed.
//
// A page is kept with the endpoints' version counter (registry::store::version) read before
// its records were: every change of any endpoint, on any instance, bumps it, so a page whose
// version is still the current one still holds the current records. Only the counters
// (failure_count, consecutive_failures, dead_lettered) and the health change without a bump:
// the counters are read afresh on every request, with the version, in one pipelined round trip
// of plain commands, and the health too when this process's health::read_cache of the page's
// endpoints is more than a second old. A page older than max_age is built again even with the
// version unchanged: a writer that died between a change and its version bump
// (registry/store.hpp) delays the change by that much at most.
//
//   auto p = cache.find(key, now);                // null: build it (version first, then page)
//   if (p && p->version == current) { for (auto& it : p->items) it.append(out, counters); }
//   cache.put(key, page_cache::page{version, {page_cache::render(ep), ...}, more, last});
//
// Thread-safe; bounded (cleared when full, like the store's parse cache).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "redis/request.hpp"
#include "registry/endpoint.hpp"

namespace tresse::dispatcher::api {

class page_cache {
 public:
  // failure_count, consecutive_failures, dead_lettered: what changes without a version bump.
  struct counters {
    std::int64_t failure_count = 0;
    std::int64_t consecutive_failures = 0;
    std::int64_t dead_lettered = 0;
    static counters of(const registry::endpoint& ep) {
      return {ep.failure_count, ep.consecutive_failures, ep.dead_lettered};
    }
  };

  // One endpoint's JSON text without its three counters, and where they go.
  struct item {
    std::string id;
    std::string text;
    std::array<std::size_t, 3> at{};  // consecutive_failures, dead_lettered, failure_count
    bool split = true;                // false: `text` is whole, counters included (not cached)
    bool enabled = true;              // for its health's state (a change bumps the version)

    // Appends the endpoint's JSON with counters `c`, and `more` (members, each after a comma:
    // `,"health":{…}`) before its closing brace.
    void append(std::string& out, const counters& c, std::string_view more = {}) const;
  };
  static constexpr std::chrono::seconds max_age{60};

  struct page {
    std::int64_t version = 0;
    std::vector<item> items;
    bool has_more = false;
    std::string last_id;  // of the last item, for next_cursor
    std::vector<std::string> ids;  // the items'
    // What checks it: the version's GET, then each item's counters. Built once, sent often.
    redis::request check;
    // The items' health (health::add_read), sent after `check` when health::read_cache has
    // none younger than a second.
    redis::command_list health_read;
    std::chrono::system_clock::time_point built_at;  // for max_age
  };

  // The endpoint as registry::to_json_text writes it, split around its counters (whole, not
  // split, if the text is not laid out as expected: a page with such an item is not cached).
  static item render(const registry::endpoint& ep);
  // The page as GET /v1/webhooks answers it, with the counters of counts[i] and the members
  // more[i] (if given) for items[i].
  static std::string body(const page& p, const std::vector<counters>& counts,
                          const std::vector<std::string>& more = {});

  // Null when none, or older than max_age at `now`.
  std::shared_ptr<const page> find(const std::string& key,
                                   std::chrono::system_clock::time_point now) const;
  void put(const std::string& key, std::shared_ptr<const page> p);

 private:
  static constexpr std::size_t max_pages = 4096;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<const page>> pages_;
};

}  // namespace tresse::dispatcher::api
