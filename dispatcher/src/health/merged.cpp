#include "health/merged.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "redis/keys.hpp"
#include "tresse/common/event.hpp"
#include "tresse/common/json_text.hpp"

namespace tresse::dispatcher::health {

merged merge(bool enabled, const std::vector<endpoint_report>& views,
             std::optional<wall_time> open_until, wall_time now) {
  merged m;
  double ok = 0;
  bool throttled = false;
  for (const auto& r : views) {
    m.attempts += r.attempts;
    if (r.success_rate >= 0) ok += r.success_rate * static_cast<double>(r.attempts);
    if (r.p50_ms) m.p50_ms = std::max(m.p50_ms.value_or(0), *r.p50_ms);
    if (r.p99_ms) m.p99_ms = std::max(m.p99_ms.value_or(0), *r.p99_ms);
    if (r.rate_per_second) {
      m.rate_per_second = std::min(m.rate_per_second.value_or(*r.rate_per_second), *r.rate_per_second);
    }
    throttled = throttled || r.state == "throttled";
    m.in_flight += r.in_flight;
    m.queued += r.queued;
  }
  m.instances = views.size();
  m.success_rate = m.attempts > 0 ? ok / static_cast<double>(m.attempts) : -1;
  m.open_until = open_until;
  m.breaker = !open_until ? "closed" : *open_until > now ? "open" : "half_open";
  endpoint_report as_one;
  as_one.attempts = m.attempts;
  as_one.success_rate = m.success_rate;
  as_one.breaker = m.breaker;
  m.state = enabled ? classify(as_one, throttled) : "disabled";
  return m;
}

void add_read(redis::command_list& c, const std::vector<std::string>& ids) {
  for (const auto& id : ids) c.add({"HVALS", redis::keys::endpoint_health(id)});
  std::vector<std::string_view> zmscore{"ZMSCORE", redis::keys::breakers_open};
  for (const auto& id : ids) zmscore.push_back(id);
  if (ids.empty()) zmscore.push_back("");  // ZMSCORE needs a member
  c.add(zmscore);
}

read_result from_replies(const std::vector<redis::reply>& r, std::size_t from,
                         const std::vector<std::string>& ids) {
  read_result out;
  out.views.resize(ids.size());
  out.open_until.resize(ids.size());
  if (r.size() < from + ids.size() + 1) return out;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    for (const auto& v : r[from + i].elements) {
      auto j = nlohmann::json::parse(v.str, nullptr, /*allow_exceptions=*/false);
      out.views[i].push_back(report_from_json(ids[i], j));
    }
  }
  const auto& scores = r[from + ids.size()].elements;
  for (std::size_t i = 0; i < ids.size() && i < scores.size(); ++i) {
    if (scores[i].type != redis::reply::kind::string) continue;  // nil: not open
    const std::int64_t ms = std::strtoll(scores[i].str.c_str(), nullptr, 10);
    out.open_until[i] = wall_time(std::chrono::milliseconds(ms));
  }
  return out;
}

void append_api_json(std::string& out, const merged& h) {
  namespace jt = tresse::json_text;
  // In nlohmann's (sorted) key order, so that both forms print alike.
  out.append("{\"attempts\":");
  jt::append_int(out, static_cast<std::int64_t>(h.attempts));
  out.append(",\"circuit_open_until\":");
  if (h.open_until) {
    jt::append_string(out, tresse::events::format_rfc3339(*h.open_until));
  } else {
    out.append("null");
  }
  out.append(",\"state\":");
  jt::append_string(out, h.state);
  out.append(",\"success_rate\":");
  if (h.success_rate < 0) {
    out.append("null");
  } else {
    char text[32];
    const auto end = std::to_chars(text, text + sizeof text, h.success_rate).ptr;
    const std::string_view number(text, static_cast<std::size_t>(end - text));
    out.append(number);
    if (number.find_first_of(".e") == std::string_view::npos) out.append(".0");  // as nlohmann
  }
  out.push_back('}');
}

nlohmann::json to_api_json(const merged& h) {
  std::string text;
  append_api_json(text, h);
  return nlohmann::json::parse(text);
}

}  // namespace tresse::dispatcher::health
