#include "api/ops_view.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <map>
#include <vector>

#include "api/keys.hpp"
#include "health/merged.hpp"
#include "redis/keys.hpp"
#include "retry/store.hpp"
#include "stats/accumulator.hpp"
#include "tresse/common/event.hpp"

namespace tresse::dispatcher::api {
namespace {

using json = nlohmann::json;
using clock = std::chrono::system_clock;

constexpr std::int64_t rate_minutes = 60;  // the delivery rate: the last hour, per minute
constexpr std::int64_t dead_letter_hours = 24;

std::string rfc3339(clock::time_point t) { return tresse::events::format_rfc3339(t); }

struct row {
  std::shared_ptr<const registry::endpoint> ep;
  health::merged h;
};

json row_json(const row& r) {
  auto opt = [](const auto& o) { return o ? json(*o) : json(nullptr); };
  return {{"id", r.ep->id},
          {"business_id", r.ep->business_id},
          {"url", r.ep->url},
          {"livemode", r.ep->livemode},
          {"state", r.h.state},
          {"attempts", r.h.attempts},
          {"success_rate", r.h.success_rate < 0 ? json(nullptr) : json(r.h.success_rate)},
          {"p99_ms", opt(r.h.p99_ms)}};
}

}  // namespace

ops_view::ops_view(std::string token_sha256, ops_sources sources)
    : token_sha256_(std::move(token_sha256)), sources_(std::move(sources)) {}

bool ops_view::authorized(std::string_view authorization) const {
  if (!enabled()) return false;
  constexpr std::string_view bearer = "Bearer ";
  if (authorization.size() <= bearer.size() || !authorization.starts_with(bearer)) return false;
  // Digests of equal length, compared in constant time: neither the token's length nor its
  // content leaks through timing.
  const std::string presented = key_hash(authorization.substr(bearer.size()));
  return presented.size() == token_sha256_.size() &&
         CRYPTO_memcmp(presented.data(), token_sha256_.data(), presented.size()) == 0;
}

redis::operation<json> ops_view::overview_op(clock::time_point now) const {
  auto all = sources_.endpoints ? sources_.endpoints->all()
                                : std::vector<std::shared_ptr<const registry::endpoint>>{};
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return std::tie(a->business_id, a->id) < std::tie(b->business_id, b->id);
  });
  const std::size_t total = all.size();
  if (all.size() > max_endpoints) all.resize(max_endpoints);
  std::vector<std::string> ids;
  ids.reserve(all.size());
  for (const auto& ep : all) ids.push_back(ep->id);

  const std::int64_t minute_now = stats::minute_of(now);
  const std::int64_t first_minute = minute_now - rate_minutes + 1;
  const std::int64_t hour_now =
      std::chrono::floor<std::chrono::hours>(now.time_since_epoch()).count();
  const std::int64_t first_hour = hour_now - dead_letter_hours + 1;

  // One pipeline: the schedule's sizes, every listed endpoint's health, the minutes, the hours.
  redis::request r;
  r.commands.append(retry::store::backlog_commands(sources_.retry_shards).commands);
  health::add_read(r.commands, ids);
  for (std::int64_t m = first_minute; m <= minute_now; ++m) {
    r.commands.add({"HGETALL", redis::keys::all_minute_stats(m)});
  }
  for (std::int64_t h = first_hour; h <= hour_now; ++h) {
    r.commands.add({"GET", redis::keys::dead_letters_hour(h)});
  }
  std::optional<double> lag = sources_.consumer_lag ? sources_.consumer_lag() : std::nullopt;

  const std::size_t schedule_replies = 2 * sources_.retry_shards;
  return redis::operation<json>::one(
      std::move(r),
      [all = std::move(all), ids = std::move(ids), total, now, first_minute, first_hour, lag,
       schedule_replies](redis::operation<json>&,
                         redis::replies got) -> std::optional<result<json>> {
        if (auto st = redis::status_of(got); !st) return result<json>(std::unexpected(st.error()));
        const auto& rs = *got;
        auto schedule = retry::store::backlog_from_replies(
            std::vector<redis::reply>(rs.begin(), rs.begin() + schedule_replies));
        if (!schedule) return result<json>(std::unexpected(schedule.error()));
        std::size_t at = schedule_replies;
        const std::int64_t scheduled = schedule->scheduled, claimed = schedule->claimed;
        const health::read_result read = health::from_replies(rs, at, ids);
        at += ids.size() + 1;

        std::vector<row> rows;
        rows.reserve(all.size());
        std::map<std::string, std::int64_t> by_state;
        for (const char* s : {"healthy", "failing", "throttled", "circuit_open", "circuit_half_open",
                              "disabled", "idle"}) {
          by_state[s] = 0;
        }
        json businesses = json::array();
        for (std::size_t i = 0; i < all.size(); ++i) {
          rows.push_back({all[i], health::merge(all[i]->enabled, read.views[i], read.open_until[i], now)});
          ++by_state[rows.back().h.state];
          if (businesses.empty() || businesses.back()["business_id"] != all[i]->business_id) {
            businesses.push_back({{"business_id", all[i]->business_id}, {"endpoints", json::array()}});
          }
          businesses.back()["endpoints"].push_back(row_json(rows.back()));
        }
        // The worst ten: of endpoints with recent attempts, lowest success rate / highest p99.
        std::vector<const row*> tried;
        for (const auto& rw : rows) {
          if (rw.h.attempts > 0) tried.push_back(&rw);
        }
        auto worst_by = [&tried](auto better) {
          std::vector<const row*> v = tried;
          std::stable_sort(v.begin(), v.end(), better);
          json out = json::array();
          for (std::size_t i = 0; i < v.size() && i < worst; ++i) out.push_back(row_json(*v[i]));
          return out;
        };
        json worst_rate = worst_by([](const row* a, const row* b) {
          return a->h.success_rate < b->h.success_rate;
        });
        std::erase_if(tried, [](const row* rw) { return !rw->h.p99_ms; });
        json worst_p99 = worst_by([](const row* a, const row* b) {
          return *a->h.p99_ms > *b->h.p99_ms;
        });

        json rate = json::array();
        for (std::int64_t m = 0; m < rate_minutes; ++m) {
          const stats::minute_counts c = stats::from_hash(rs[at++]);
          rate.push_back({{"start", rfc3339(clock::time_point(std::chrono::minutes(first_minute + m)))},
                          {"delivered", c.delivered},
                          {"failed", c.failed}});
        }
        json dead = json::array();
        for (std::int64_t h = 0; h < dead_letter_hours; ++h) {
          const auto& v = rs[at++];
          const std::int64_t n = v.is_nil() ? 0 : std::max<std::int64_t>(0, std::atoll(v.str.c_str()));
          dead.push_back({{"start", rfc3339(clock::time_point(std::chrono::hours(first_hour + h)))},
                          {"count", n}});
        }
        json overview = {
            {"object", "ops_overview"},
            {"generated_at", rfc3339(now)},
            {"endpoints",
             {{"total", total}, {"listed", rows.size()}, {"truncated", total > rows.size()},
              {"by_state", by_state}}},
            {"businesses", std::move(businesses)},
            {"worst_success_rate", std::move(worst_rate)},
            {"worst_p99", std::move(worst_p99)},
            {"retry_backlog", {{"scheduled", scheduled}, {"claimed", claimed}}},
            {"consumer_lag", lag ? json(*lag) : json(nullptr)},
            {"dead_letters_per_hour", std::move(dead)},
            {"delivery_rate", std::move(rate)}};
        return result<json>(std::move(overview));
      });
}

}  // namespace tresse::dispatcher::api
