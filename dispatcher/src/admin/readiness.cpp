#include "admin/readiness.hpp"

#include "tresse/common/thread_name.hpp"

namespace tresse::dispatcher {

readiness::readiness(readiness_checks checks, std::chrono::milliseconds interval)
    : checks_(std::move(checks)), interval_(interval) {
  start(checks_.kafka, kafka_);
  start(checks_.redis, redis_);
  start(checks_.proxy, proxy_);
}

readiness::~readiness() {
  for (auto& t : threads_) t.request_stop();
  wake_.notify_all();
  threads_.clear();  // joins
}

bool readiness::proxy_ok() const {
  if (!has_proxy()) return true;
  return passes(proxy_) && !(checks_.proxy_failing && checks_.proxy_failing());
}

void readiness::start(const std::function<bool()>& check, std::atomic<int>& result) {
  if (!check) return;
  result.store(not_yet, std::memory_order_relaxed);
  threads_.emplace_back([this, &check, &result](std::stop_token stop) {
    name_this_thread("readiness");
    while (!stop.stop_requested()) {
      result.store(check() ? passed : failed, std::memory_order_relaxed);
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, stop, interval_, [] { return false; });
    }
  });
}

}  // namespace tresse::dispatcher
