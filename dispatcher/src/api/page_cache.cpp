#include "api/page_cache.hpp"

#include <string_view>

#include "tresse/common/json_text.hpp"

namespace tresse::dispatcher::api {

page_cache::item page_cache::render(const registry::endpoint& ep) {
  registry::endpoint zeroed = ep;
  zeroed.consecutive_failures = zeroed.dead_lettered = zeroed.failure_count = 0;
  item out{ep.id, registry::to_json_text(zeroed), {}, true};
  // In the text's (lexical) key order. A key cannot match inside a string value: a quote there
  // is escaped.
  static constexpr std::array<std::string_view, 3> keys = {
      "\"consecutive_failures\":0", "\"dead_lettered\":0", "\"failure_count\":0"};
  std::size_t from = 0;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    std::size_t pos = out.text.find(keys[i], from);
    if (pos == std::string::npos) return {ep.id, registry::to_json_text(ep), {}, false};
    pos += keys[i].size() - 1;
    out.text.erase(pos, 1);  // the 0
    out.at[i] = from = pos;
  }
  return out;
}

void page_cache::item::append(std::string& out, const counters& c) const {
  if (!split) {
    out += text;
    return;
  }
  const std::int64_t values[3] = {c.consecutive_failures, c.dead_lettered, c.failure_count};
  std::size_t done = 0;
  for (std::size_t i = 0; i < at.size(); ++i) {
    out.append(text, done, at[i] - done);
    json_text::append_int(out, values[i]);
    done = at[i];
  }
  out.append(text, done);
}

std::string page_cache::body(const page& p, const std::vector<counters>& counts) {
  std::string out;
  std::size_t size = 64;
  for (const auto& it : p.items) size += it.text.size() + 32;
  out.reserve(size);
  out += "{\"data\":[";
  for (std::size_t i = 0; i < p.items.size() && i < counts.size(); ++i) {
    if (i > 0) out.push_back(',');
    p.items[i].append(out, counts[i]);
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

std::shared_ptr<const page_cache::page> page_cache::find(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = pages_.find(key);
  return it == pages_.end() ? nullptr : it->second;
}

void page_cache::put(const std::string& key, std::shared_ptr<const page> p) {
  std::lock_guard lock(mutex_);
  if (pages_.size() >= max_pages) pages_.clear();
  pages_[key] = std::move(p);
}

}  // namespace tresse::dispatcher::api
