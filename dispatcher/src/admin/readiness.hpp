// What /readyz and the tresse_ready gauges report (admin_server.hpp), checked in the background.
//
// Each check runs on a thread of its own, every `interval`, and the answers come from the last
// results at once. Run on demand, one after the other, a PING, a broker metadata request and a
// proxy connect (each bounded by about a second) held every /metrics scrape and /readyz probe
// for as long as a dependency hung, and a hanging Kafka delayed the Redis answer too. A result
// is at most `interval` plus the check's own timeout old. A check that has not answered yet
// counts as failing, so an instance is not ready before its first checks are in.
//
//   readiness ready(checks);            // starts the checks
//   ready.redis_ok();                   // the last answer, without waiting
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

namespace tresse::dispatcher {

struct readiness_checks {
  std::function<bool()> kafka;  // true when the brokers answer (may block ~1 s)
  std::function<bool()> redis;  // true when Redis answers PING (may block)
  // With delivery.proxy only: true when the proxy takes connections (may block ~1 s) ...
  std::function<bool()> proxy;
  // ... and, read on demand (it must not block), true while deliveries see it fail.
  std::function<bool()> proxy_failing;
  bool kafka_embedded = false;  // kafka.brokers=embedded: said in every answer
};

class readiness {
 public:
  explicit readiness(readiness_checks checks,
                     std::chrono::milliseconds interval = std::chrono::seconds(1));
  ~readiness();  // stops the checks; waits for those under way
  readiness(const readiness&) = delete;
  readiness& operator=(const readiness&) = delete;

  // A check that is not configured passes.
  bool kafka_ok() const { return passes(kafka_); }
  bool redis_ok() const { return passes(redis_); }
  bool has_proxy() const { return static_cast<bool>(checks_.proxy); }
  bool proxy_ok() const;
  bool kafka_embedded() const { return checks_.kafka_embedded; }
  bool ready() const { return kafka_ok() && redis_ok() && proxy_ok(); }

 private:
  enum : int { not_yet = -1, failed = 0, passed = 1, not_configured = 2 };
  static bool passes(const std::atomic<int>& r) {
    const int v = r.load(std::memory_order_relaxed);
    return v == passed || v == not_configured;
  }
  void start(const std::function<bool()>& check, std::atomic<int>& result);

  readiness_checks checks_;
  std::chrono::milliseconds interval_;
  std::atomic<int> kafka_{not_configured}, redis_{not_configured}, proxy_{not_configured};
  std::mutex mu_;
  std::condition_variable_any wake_;
  std::vector<std::jthread> threads_;  // last: stopped and joined first
};

}  // namespace tresse::dispatcher
