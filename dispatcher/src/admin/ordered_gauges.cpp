#include "admin/ordered_gauges.hpp"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "delivery/ordered_queue.hpp"

namespace tresse::dispatcher {
namespace {

using namespace std::chrono_literals;

// One read per scrape for both gauges (a scrape reads them one after the other).
class ordered_reading {
 public:
  ordered_reading(const registry::cache& endpoints, std::shared_ptr<redis::client> redis,
                  std::size_t shards)
      : endpoints_(endpoints), redis_(std::move(redis)), shards_(shards) {}

  std::optional<ordered::backlog> get() {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (read_at_ && now - *read_at_ < 1s) return last_;
    std::vector<std::string> ids;
    for (const auto& ep : endpoints_.all()) {
      if (ep->order == registry::ordering::per_resource) ids.push_back(ep->id);
    }
    auto op = ordered::total_backlog_op(ids, shards_);
    auto r = redis::run(*redis_, op);
    last_ = r ? std::optional(*r) : std::nullopt;
    read_at_ = now;
    return last_;
  }

 private:
  const registry::cache& endpoints_;
  std::shared_ptr<redis::client> redis_;
  std::size_t shards_;
  std::mutex mu_;
  std::optional<std::chrono::steady_clock::time_point> read_at_;
  std::optional<ordered::backlog> last_;
};

}  // namespace

void register_ordered_gauges(metrics& m, const registry::cache& endpoints,
                             std::shared_ptr<redis::client> redis, std::size_t retry_shards) {
  auto reading = std::make_shared<ordered_reading>(endpoints, std::move(redis), retry_shards);
  m.make_callback_gauge("tresse_ordered_waiting",
                        "Events waiting behind their resource's head in ordered queues",
                        [reading] {
                          auto b = reading->get();
                          return b ? static_cast<double>(b->waiting) : -1.0;
                        });
  m.make_callback_gauge(
      "tresse_ordered_oldest_wait_seconds",
      "How long the longest-waiting event in an ordered queue has waited (0: none waits)",
      [reading] {
        auto b = reading->get();
        if (!b) return -1.0;
        if (!b->oldest_queued_at) return 0.0;
        const auto waited = ordered::clock::now() - *b->oldest_queued_at;
        return std::max(0.0, std::chrono::duration<double>(waited).count());
      });
}

}  // namespace tresse::dispatcher
