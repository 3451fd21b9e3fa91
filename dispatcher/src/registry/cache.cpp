#include "registry/cache.hpp"

#include "tresse/common/log.hpp"

namespace tresse::dispatcher::registry {

cache::cache(store& source, cache_options opts)
    : source_(source), opts_(opts), snapshot_(std::make_shared<const snapshot>()) {}

cache::~cache() { stop(); }

status cache::start() {
  auto s = refresh();
  std::lock_guard lock(mu_);
  if (!thread_.joinable()) {
    stopping_ = false;
    thread_ = std::thread([this] { run(); });
  }
  return s;
}

void cache::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void cache::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, opts_.refresh_interval, [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    (void)refresh();  // failures are logged inside
    lock.lock();
  }
}

status cache::refresh() {
  std::lock_guard refreshing(refresh_mu_);
  auto report = [&](const error& e) -> status {
    if (!failing_) {
      log::warn("endpoint registry unreachable; serving the last snapshot",
                {{"error", e.message}, {"endpoints", size()}});
      failing_ = true;
    }
    return std::unexpected(e);
  };
  auto v = source_.version();
  if (!v) return report(v.error());
  const auto now = std::chrono::steady_clock::now();
  if (*v == current()->version && now - loaded_at_ < opts_.full_refresh_interval) {
    if (failing_) log::info("endpoint registry reachable again");
    failing_ = false;
    return {};
  }
  // The version is read before the endpoints, so a change made during the load is picked
  // up by the next refresh rather than missed.
  auto all = source_.list_all();
  if (!all) return report(all.error());

  auto next = std::make_shared<snapshot>();
  next->version = *v;
  for (auto& ep : *all) {
    auto shared = std::make_shared<const endpoint>(std::move(ep));
    next->by_business[shared->business_id].push_back(shared);
    next->by_id.emplace(shared->id, std::move(shared));
  }
  {
    std::lock_guard lock(mu_);
    snapshot_ = std::move(next);
  }
  loaded_at_ = now;
  if (failing_) log::info("endpoint registry reachable again");
  failing_ = false;
  log::debug("endpoint snapshot loaded", {{"version", *v}, {"endpoints", size()}});
  return {};
}

std::shared_ptr<const cache::snapshot> cache::current() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

std::vector<std::shared_ptr<const endpoint>> cache::matching(std::string_view business_id,
                                                             std::string_view event_type,
                                                             bool livemode) const {
  auto snap = current();
  std::vector<std::shared_ptr<const endpoint>> out;
  auto it = snap->by_business.find(std::string(business_id));
  if (it == snap->by_business.end()) return out;
  for (const auto& ep : it->second) {
    if (ep->subscribes_to(event_type, livemode)) out.push_back(ep);
  }
  return out;
}

std::shared_ptr<const endpoint> cache::find(std::string_view id) const {
  auto snap = current();
  auto it = snap->by_id.find(std::string(id));
  return it == snap->by_id.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const endpoint>> cache::all() const {
  auto snap = current();
  std::vector<std::shared_ptr<const endpoint>> out;
  out.reserve(snap->by_id.size());
  for (const auto& [id, ep] : snap->by_id) out.push_back(ep);
  return out;
}

std::int64_t cache::version() const { return current()->version; }

std::size_t cache::size() const { return current()->by_id.size(); }

}  // namespace tresse::dispatcher::registry
