#include "admin/metrics.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>
#include <system_error>

namespace tresse::dispatcher {
namespace {

// The text format's escapes: backslash and line feed, and in label values (`quotes`) the
// double quote too. HELP text leaves double quotes as they are.
std::string escape(const std::string& v, bool quotes) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '\\' || (quotes && c == '"')) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string format_labels(const metric_labels& labels, const std::string& extra = {}) {
  if (labels.empty() && extra.empty()) return {};
  std::string out = "{";
  for (const auto& [k, v] : labels) {
    if (out.size() > 1) out.push_back(',');
    out += k + "=\"" + escape(v, /*quotes=*/true) + "\"";
  }
  if (!extra.empty()) {
    if (out.size() > 1) out.push_back(',');
    out += extra;
  }
  out.push_back('}');
  return out;
}

std::string format_number(double v) {
  // The text format spells the special values so; std::to_chars would write "inf" and "nan".
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // The shortest text that reads back as the same double: 0.1, not 0.10000000000000001, so that
  // a query or alert written with le="0.1" matches the bucket.
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::string("NaN");
}

void atomic_add(std::atomic<double>& a, double v) {
  double old = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(old, old + v, std::memory_order_relaxed)) {
  }
}

}  // namespace

void gauge::add(double v) { atomic_add(value_, v); }

histogram::histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  buckets_.resize(bounds_.size());
}

void histogram::observe(double v) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (v <= bounds_[i]) {
      buckets_[i].fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  count_.fetch_add(1, std::memory_order_relaxed);
  atomic_add(sum_, v);
}

metrics::family& metrics::family_for(const std::string& name, const std::string& help,
                                     const char* type) {
  for (auto& f : families_) {
    if (f.name == name) {
      if (f.type != type) throw std::logic_error("metric " + name + " registered twice");
      return f;
    }
  }
  return families_.emplace_back(family{name, help, type, {}});
}

counter& metrics::make_counter(std::string name, std::string help, metric_labels labels) {
  std::lock_guard lock(mutex_);
  counter& c = counters_.emplace_back();
  family_for(name, help, "counter").members.push_back(series{std::move(labels), &c, nullptr, nullptr, {}});
  return c;
}

gauge& metrics::make_gauge(std::string name, std::string help, metric_labels labels) {
  std::lock_guard lock(mutex_);
  gauge& g = gauges_.emplace_back();
  family_for(name, help, "gauge").members.push_back(series{std::move(labels), nullptr, &g, nullptr, {}});
  return g;
}

histogram& metrics::make_histogram(std::string name, std::string help, std::vector<double> bounds,
                                   metric_labels labels) {
  std::lock_guard lock(mutex_);
  histogram& h = histograms_.emplace_back(std::move(bounds));
  family_for(name, help, "histogram")
      .members.push_back(series{std::move(labels), nullptr, nullptr, &h, {}});
  return h;
}

void metrics::make_callback_gauge(std::string name, std::string help, std::function<double()> read,
                                  metric_labels labels) {
  std::lock_guard lock(mutex_);
  family_for(name, help, "gauge")
      .members.push_back(series{std::move(labels), nullptr, nullptr, nullptr, std::move(read)});
}

void metrics::make_callback_family(std::string name, std::string help,
                                   std::function<labelled_values()> read, std::size_t max_series,
                                   family_type type) {
  std::lock_guard lock(mutex_);
  series s;
  s.read_many = std::move(read);
  s.max_series = max_series;
  family_for(name, help, type == family_type::counter ? "counter" : "gauge")
      .members.push_back(std::move(s));
}

std::string metrics::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& f : families_) {
    out += "# HELP " + f.name + " " + escape(f.help, /*quotes=*/false) + "\n# TYPE " + f.name +
           " " + f.type + "\n";
    for (const auto& s : f.members) {
      if (s.c != nullptr) {
        out += f.name + format_labels(s.labels) + " " + std::to_string(s.c->value()) + "\n";
      } else if (s.g != nullptr) {
        out += f.name + format_labels(s.labels) + " " + format_number(s.g->value()) + "\n";
      } else if (s.read_many) {
        auto values = s.read_many();
        if (values.size() > s.max_series) values.resize(s.max_series);
        for (const auto& [labels, v] : values) {
          out += f.name + format_labels(labels) + " " + format_number(v) + "\n";
        }
      } else if (s.read) {
        out += f.name + format_labels(s.labels) + " " + format_number(s.read()) + "\n";
      } else if (s.h != nullptr) {
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < s.h->bounds().size(); ++i) {
          cumulative += s.h->bucket(i);
          out += f.name + "_bucket" +
                 format_labels(s.labels, "le=\"" + format_number(s.h->bounds()[i]) + "\"") + " " +
                 std::to_string(cumulative) + "\n";
        }
        out += f.name + "_bucket" + format_labels(s.labels, "le=\"+Inf\"") + " " +
               std::to_string(s.h->count()) + "\n";
        out += f.name + "_sum" + format_labels(s.labels) + " " + format_number(s.h->sum()) + "\n";
        out += f.name + "_count" + format_labels(s.labels) + " " + std::to_string(s.h->count()) +
               "\n";
      }
    }
  }
  return out;
}

}  // namespace tresse::dispatcher
