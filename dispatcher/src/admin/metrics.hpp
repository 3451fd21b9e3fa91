// Prometheus metrics: counters, gauges and fixed-bucket histograms, rendered in the text
// exposition format for /metrics. Lock-free updates (atomics); labels are fixed at
// registration so cardinality is bounded by construction.
//
//   metrics m;
//   auto& delivered = m.counter("tresse_deliveries_total", "Attempts by outcome", {{"outcome", "delivered"}});
//   delivered.inc();
//   std::string text = m.render();
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace tresse::dispatcher {

using metric_labels = std::vector<std::pair<std::string, std::string>>;

class counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Counts one in a gauge while it lives (something in progress); movable, not copyable.
class gauge_hold {
 public:
  gauge_hold() = default;
  explicit gauge_hold(gauge* g) : g_(g) { g_->add(1); }
  gauge_hold(gauge_hold&& o) noexcept : g_(std::exchange(o.g_, nullptr)) {}
  gauge_hold& operator=(gauge_hold&& o) noexcept {
    if (this != &o) {
      if (g_ != nullptr) g_->add(-1);
      g_ = std::exchange(o.g_, nullptr);
    }
    return *this;
  }
  ~gauge_hold() {
    if (g_ != nullptr) g_->add(-1);
  }

 private:
  gauge* g_ = nullptr;
};

class histogram {
 public:
  explicit histogram(std::vector<double> bounds);
  void observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  std::uint64_t bucket(std::size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::deque<std::atomic<std::uint64_t>> buckets_;  // one per bound, non-cumulative
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

class metrics {
 public:
  counter& make_counter(std::string name, std::string help, metric_labels labels = {});
  gauge& make_gauge(std::string name, std::string help, metric_labels labels = {});
  histogram& make_histogram(std::string name, std::string help, std::vector<double> bounds,
                            metric_labels labels = {});
  // A gauge computed when scraped (e.g. retry backlog, consumer lag).
  void make_callback_gauge(std::string name, std::string help, std::function<double()> read,
                           metric_labels labels = {});

  // A family whose series are computed when scraped, e.g. the N worst endpoints (a gauge), or
  // counts kept elsewhere in a lock-free table (a counter). At most `max_series` are rendered,
  // whatever `read` returns: cardinality stays bounded.
  using labelled_values = std::vector<std::pair<metric_labels, double>>;
  enum class family_type { gauge, counter };
  void make_callback_family(std::string name, std::string help,
                            std::function<labelled_values()> read, std::size_t max_series,
                            family_type type = family_type::gauge);

  std::string render() const;

 private:
  struct series {
    metric_labels labels;
    counter* c = nullptr;
    gauge* g = nullptr;
    histogram* h = nullptr;
    std::function<double()> read;
    std::function<labelled_values()> read_many;
    std::size_t max_series = 0;
  };
  struct family {
    std::string name, help, type;
    std::vector<series> members;
  };
  family& family_for(const std::string& name, const std::string& help, const char* type);

  mutable std::mutex mutex_;
  std::deque<family> families_;
  std::deque<counter> counters_;
  std::deque<gauge> gauges_;
  std::deque<histogram> histograms_;
};

}  // namespace tresse::dispatcher
