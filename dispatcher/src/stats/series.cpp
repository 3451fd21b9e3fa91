#include "stats/series.hpp"

#include "redis/keys.hpp"
#include "tresse/common/event.hpp"

namespace tresse::dispatcher::stats {
namespace {

using json = nlohmann::json;

std::string minute_text(std::int64_t minute) {
  return tresse::events::format_rfc3339(
      std::chrono::system_clock::time_point(std::chrono::minutes(minute)));
}

json latency_json(const latency_histogram& h) {
  const auto p50 = h.quantile_ms(0.5), p99 = h.quantile_ms(0.99);
  return {{"p50", p50 ? json(*p50) : json(nullptr)}, {"p99", p99 ? json(*p99) : json(nullptr)}};
}

}  // namespace

std::expected<window, std::string> window_of(std::chrono::system_clock::time_point since,
                                             std::chrono::system_clock::time_point until,
                                             std::chrono::seconds step) {
  using std::chrono::minutes;
  if (step.count() < 60 || step.count() > 86400 || step.count() % 60 != 0) {
    return std::unexpected("step must be a multiple of 60 seconds from 60 to 86400");
  }
  if (since >= until) return std::unexpected("since must be before until");
  if (until - since > max_window) return std::unexpected("until must be at most 48 hours after since");
  const std::int64_t per = step.count() / 60;
  const std::int64_t first = std::chrono::floor<minutes>(since.time_since_epoch()).count();
  const std::int64_t last = std::chrono::ceil<minutes>(until.time_since_epoch()).count();  // excl.
  window w{first - (((first % per) + per) % per), 0, per};
  const std::int64_t steps = (last - w.first_minute + per - 1) / per;
  if (steps > static_cast<std::int64_t>(max_steps)) {
    return std::unexpected("step is too small for the window: at most 1440 steps (at most 24 "
                           "hours at step=60)");
  }
  w.steps = static_cast<std::size_t>(steps);
  return w;
}

redis::operation<series> read_op(std::string endpoint_id, std::int64_t first_minute,
                                 std::size_t steps, std::int64_t step_minutes) {
  redis::request r;
  const std::int64_t minutes = static_cast<std::int64_t>(steps) * step_minutes;
  for (std::int64_t m = 0; m < minutes; ++m) {
    r.commands.add({"HGETALL", redis::keys::endpoint_minute_stats(endpoint_id, first_minute + m)});
  }
  return redis::operation<series>::one(
      std::move(r),
      [id = std::move(endpoint_id), first_minute, steps, step_minutes](
          redis::operation<series>&, redis::replies got) -> std::optional<result<series>> {
        if (auto st = redis::status_of(got); !st) {
          return result<series>(std::unexpected(st.error()));
        }
        series s{id, first_minute, step_minutes, std::vector<minute_counts>(steps), {}};
        for (std::size_t i = 0; i < got->size(); ++i) {
          const minute_counts c = from_hash((*got)[i]);
          s.steps[i / static_cast<std::size_t>(step_minutes)].merge(c);
          s.total.merge(c);
        }
        return result<series>(std::move(s));
      });
}

json to_json(const series& s) {
  json data = json::array();
  for (std::size_t i = 0; i < s.steps.size(); ++i) {
    const auto& c = s.steps[i];
    data.push_back({{"start", minute_text(s.first_minute + static_cast<std::int64_t>(i) * s.step_minutes)},
                    {"delivered", c.delivered},
                    {"failed", c.failed},
                    {"latency_ms", latency_json(c.latency)}});
  }
  const std::int64_t attempts = s.total.delivered + s.total.failed;
  const std::int64_t end =
      s.first_minute + static_cast<std::int64_t>(s.steps.size()) * s.step_minutes;
  return {{"object", "webhook_stats"},
          {"endpoint_id", s.endpoint_id},
          {"since", minute_text(s.first_minute)},
          {"until", minute_text(end)},
          {"step", s.step_minutes * 60},
          {"data", std::move(data)},
          {"summary",
           {{"delivered", s.total.delivered},
            {"failed", s.total.failed},
            {"success_rate",
             attempts > 0 ? json(static_cast<double>(s.total.delivered) / attempts) : json(nullptr)},
            {"latency_ms", latency_json(s.total.latency)}}}};
}

}  // namespace tresse::dispatcher::stats
