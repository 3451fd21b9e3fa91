#include "health/read_cache.hpp"

#include <utility>

namespace tresse::dispatcher::health {

read_cache::entry::entry(std::vector<endpoint_report> v, std::optional<wall_time> until)
    : views(std::move(v)), open_until(until) {
  // merge() reads `now` only to tell an open circuit (open_until > now) from a half-open one.
  append_api_json(open_text_, merge(true, views, open_until, wall_time::min()));
  append_api_json(after_text_, merge(true, views, open_until, open_until.value_or(wall_time::min())));
  append_api_json(disabled_text_, merge(false, views, open_until, wall_time::min()));
}

const std::string& read_cache::entry::api_json(bool enabled, wall_time now) const {
  if (!enabled) return disabled_text_;
  return open_until && now >= *open_until ? after_text_ : open_text_;
}

std::optional<read_cache::entries> read_cache::find_all(const std::vector<std::string>& ids,
                                                        clock::time_point now) const {
  entries out;
  out.reserve(ids.size());
  std::lock_guard lock(mutex_);
  for (const auto& id : ids) {
    auto it = entries_.find(id);
    if (it == entries_.end() || now - it->second.read_at >= max_age_) return std::nullopt;
    out.push_back(it->second.value);
  }
  return out;
}

read_cache::entries read_cache::put(const std::vector<std::string>& ids, read_result read,
                                    clock::time_point now) {
  entries out;
  out.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    out.push_back(std::make_shared<const entry>(
        i < read.views.size() ? std::move(read.views[i]) : std::vector<endpoint_report>{},
        i < read.open_until.size() ? read.open_until[i] : std::nullopt));
  }
  std::lock_guard lock(mutex_);
  if (entries_.size() + ids.size() > max_entries_) entries_.clear();
  for (std::size_t i = 0; i < ids.size(); ++i) entries_.insert_or_assign(ids[i], stamped{out[i], now});
  return out;
}

}  // namespace tresse::dispatcher::health
