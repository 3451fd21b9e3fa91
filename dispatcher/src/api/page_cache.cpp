#include "api/page_cache.hpp"

#include <string_view>

#include "tresse/common/json_text.hpp"

namespace tresse::dispatcher::api {

page_cache::item page_cache::render(const registry::endpoint& ep) {
  registry::endpoint zeroed = ep;
  zeroed.consecutive_failures = zeroed.dead_lettered = zeroed.failure_count = 0;
  item out{ep.id, registry::to_json_text(zeroed), {}, true, ep.enabled};
  // In the text's (lexical) key order. A key cannot match inside a string value: a quote there
  // is escaped.
  static constexpr std::array<std::string_view, 3> keys = {
      "\"consecutive_failures\":0", "\"dead_lettered\":0", "\"failure_count\":0"};
  std::size_t from = 0;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    std::size_t pos = out.text.find(keys[i], from);
    if (pos == std::string::npos) return {ep.id, registry::to_json_text(ep), {}, false, ep.enabled};
    pos += keys[i].size() - 1;
    out.text.erase(pos, 1);  // the 0
    out.at[i] = from = pos;
  }
  return out;
}

void page_cache::item::append(std::string& out, const counters& c, std::string_view more) const {
  // The text ends with the object's '}': `more` goes before it.
  const std::string_view whole(text);
  const std::string_view body = more.empty() ? whole : whole.substr(0, whole.size() - 1);
  if (!split) {
    out.append(body);
    if (!more.empty()) out.append(more).push_back('}');
    return;
  }
  const std::int64_t values[3] = {c.consecutive_failures, c.dead_lettered, c.failure_count};
  std::size_t done = 0;
  for (std::size_t i = 0; i < at.size(); ++i) {
    out.append(text, done, at[i] - done);
    json_text::append_int(out, values[i]);
    done = at[i];
  }
  out.append(body.substr(done));
  if (!more.empty()) out.append(more).push_back('}');
}

std::string page_cache::body(const page& p, const std::vector<counters>& counts,
                             const std::vector<std::string>& more) {
  std::string out;
  std::size_t size = 64;
  for (const auto& it : p.items) size += it.text.size() + 32;
  for (const auto& m : more) size += m.size();
  out.reserve(size);
  out += "{\"data\":[";
  for (std::size_t i = 0; i < p.items.size() && i < counts.size(); ++i) {
    if (i > 0) out.push_back(',');
    p.items[i].append(out, counts[i], i < more.size() ? std::string_view(more[i]) : std::string_view());
  }
  out += "],\"has_more\":";
  json_text::append_bool(out, p.has_more);
  out += ",\"next_cursor\":";
  if (p.has_more) {
    json_text::append_string(out, "cur_" + p.last_id);
  } else {
    out += "null";
  }
  out.push_back('}');
  return out;
}

std::shared_ptr<const page_cache::page> page_cache::find(
    const std::string& key, std::chrono::system_clock::time_point now) const {
  std::lock_guard lock(mutex_);
  auto it = pages_.find(key);
  if (it == pages_.end() || now - it->second->built_at >= max_age) return nullptr;
  return it->second;
}

void page_cache::put(const std::string& key, std::shared_ptr<const page> p) {
  std::lock_guard lock(mutex_);
  if (pages_.size() >= max_pages) pages_.clear();
  pages_[key] = std::move(p);
}

}  // namespace tresse::dispatcher::api
