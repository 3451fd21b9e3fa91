#include "health/read_cache.hpp"

#include <utility>

namespace tresse::dispatcher::health {

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
    auto e = std::make_shared<entry>();
    if (i < read.views.size()) e->views = std::move(read.views[i]);
    if (i < read.open_until.size()) e->open_until = read.open_until[i];
    out.push_back(std::move(e));
  }
  std::lock_guard lock(mutex_);
  if (entries_.size() + ids.size() > max_entries_) entries_.clear();
  for (std::size_t i = 0; i < ids.size(); ++i) entries_.insert_or_assign(ids[i], stamped{out[i], now});
  return out;
}

}  // namespace tresse::dispatcher::health
