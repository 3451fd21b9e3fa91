#include "stats/accumulator.hpp"

#include <algorithm>
#include <cstdlib>

#include "redis/keys.hpp"

namespace tresse::dispatcher::stats {

std::size_t latency_histogram::bucket_of(std::chrono::milliseconds latency) {
  const auto it =
      std::lower_bound(latency_bounds_ms.begin(), latency_bounds_ms.end(), latency.count());
  return static_cast<std::size_t>(it - latency_bounds_ms.begin());
}

void latency_histogram::merge(const latency_histogram& o) {
  for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += o.counts[i];
}

std::int64_t latency_histogram::total() const {
  std::int64_t n = 0;
  for (auto c : counts) n += c;
  return n;
}

std::optional<std::int64_t> latency_histogram::quantile_ms(double q) const {
  const std::int64_t n = total();
  if (n <= 0) return std::nullopt;
  // The smallest bucket whose cumulative count reaches ceil(q * n) (at least the first value).
  const auto rank = std::max<std::int64_t>(1, static_cast<std::int64_t>(q * n + 0.999999));
  std::int64_t seen = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    seen += counts[i];
    if (seen >= rank) return latency_bounds_ms[std::min(i, latency_bounds_ms.size() - 1)];
  }
  return latency_bounds_ms.back();
}

void minute_counts::merge(const minute_counts& o) {
  delivered += o.delivered;
  failed += o.failed;
  latency.merge(o.latency);
}

std::int64_t minute_of(std::chrono::system_clock::time_point t) {
  return std::chrono::floor<std::chrono::minutes>(t.time_since_epoch()).count();
}

minute_counts from_hash(const redis::reply& r) {
  minute_counts out;
  const auto& e = r.elements;
  for (std::size_t i = 0; i + 1 < e.size(); i += 2) {
    const std::string& field = e[i].str;
    const std::int64_t n = std::strtoll(e[i + 1].str.c_str(), nullptr, 10);
    if (n <= 0) continue;  // counters only grow; anything else is not ours
    if (field == "d") {
      out.delivered = n;
    } else if (field == "f") {
      out.failed = n;
    } else if (field.size() > 1 && field[0] == 'h') {
      char* end = nullptr;
      const long b = std::strtol(field.c_str() + 1, &end, 10);
      if (*end == '\0' && b >= 0 && static_cast<std::size_t>(b) < latency_buckets) {
        out.latency.counts[static_cast<std::size_t>(b)] = n;
      }
    }
  }
  return out;
}

void accumulator::add(std::string_view endpoint_id, std::chrono::system_clock::time_point at,
                      bool succeeded, std::optional<std::chrono::milliseconds> latency) {
  auto it = pending_by_endpoint_.find(endpoint_id);
  if (it == pending_by_endpoint_.end()) {
    it = pending_by_endpoint_.emplace(std::string(endpoint_id), std::vector<minute_entry>{}).first;
  }
  auto& minutes = it->second;
  const std::int64_t minute = minute_of(at);
  auto m = std::find_if(minutes.rbegin(), minutes.rend(),
                        [minute](const minute_entry& e) { return e.minute == minute; });
  minute_counts* c = nullptr;
  if (m == minutes.rend()) {
    c = &minutes.emplace_back(minute_entry{minute, {}}).counts;
  } else {
    c = &m->counts;
  }
  ++(succeeded ? c->delivered : c->failed);
  if (latency) c->latency.add(*latency);
  ++pending_;
}

redis::request accumulator::take(std::chrono::milliseconds ttl) {
  redis::request out;
  const std::string ttl_ms = std::to_string(std::max<std::int64_t>(1, ttl.count()));
  std::string key;
  std::vector<std::pair<std::int64_t, minute_counts>> all;  // every endpoint's, per minute
  const auto add_to_all = [&all](std::int64_t minute, const minute_counts& c) {
    for (auto& [m, sum] : all) {
      if (m == minute) return sum.merge(c);
    }
    all.emplace_back(minute, c);
  };
  for (auto it = pending_by_endpoint_.begin(); it != pending_by_endpoint_.end();) {
    auto& minutes = it->second;
    if (minutes.empty()) {
      // Idle since the last take: forgotten, so the map holds only endpoints in use.
      it = pending_by_endpoint_.erase(it);
      continue;
    }
    for (const auto& m : minutes) {
      key = redis::keys::endpoint_minute_stats(it->first, m.minute);
      add_commands(out.commands, key, m.counts, ttl_ms);
      add_to_all(m.minute, m.counts);
    }
    minutes.clear();  // keeps its capacity for the next second
    ++it;
  }
  for (const auto& [minute, sum] : all) {
    // Delivered and failed only: latencies of all endpoints together mean little.
    key = redis::keys::all_minute_stats(minute);
    minute_counts counts{sum.delivered, sum.failed, {}};
    add_commands(out.commands, key, counts, ttl_ms);
  }
  pending_ = 0;
  return out;
}

void accumulator::add_commands(redis::command_list& c, const std::string& key,
                               const minute_counts& m, const std::string& ttl_ms) {
  std::string value;
  const auto incr = [&](std::string_view field, std::int64_t n) {
    if (n == 0) return;
    value = std::to_string(n);
    c.add({"HINCRBY", key, field, value});
  };
  incr("d", m.delivered);
  incr("f", m.failed);
  for (std::size_t b = 0; b < latency_buckets; ++b) {
    if (m.latency.counts[b] == 0) continue;
    const std::string field = "h" + std::to_string(b);
    incr(field, m.latency.counts[b]);
  }
  c.add({"PEXPIRE", key, ttl_ms});
}

}  // namespace tresse::dispatcher::stats
