#include "api/replays.hpp"

#include <boost/asio/post.hpp>
#include <algorithm>
#include <cstdlib>
#include <map>
#include <thread>

#include "delivery/ordered_queue.hpp"
#include "redis/keys.hpp"
#include "tresse/common/event.hpp"
#include "tresse/common/ids.hpp"
#include "tresse/common/log.hpp"

namespace tresse::dispatcher::api {
namespace {

namespace keys = redis::keys;
using json = nlohmann::json;
using registry::clock;

std::string rfc3339_ms(std::int64_t ms) {
  return tresse::events::format_rfc3339(registry::from_unix_ms(ms));
}

}  // namespace

namespace {

kafka::window_scan retention_scan(const replay_options& o) {
  kafka::window_scan scan = o.scan;
  scan.timeout = std::min(scan.timeout, o.retention_timeout);
  return scan;
}

}  // namespace

replays::replays(std::shared_ptr<redis::client> redis, retry::store& retries, replay_options opts)
    : redis_(std::move(redis)),
      retries_(retries),
      opts_(std::move(opts)),
      retention_(retention_scan(opts_), opts_.retention_max_age),
      pool_(opts_.workers == 0 ? 1 : opts_.workers) {}

std::optional<clock::time_point> replays::earliest_replayable() {
  auto r = retention_.get();
  if (!r) {
    if (!retention_unknown_.exchange(true)) {
      log::warn("replay: cannot learn what the events topic still holds; replay windows are "
                "taken as given until it can",
                {{"topic", opts_.scan.topic}, {"error", r.error().message}});
    }
    return std::nullopt;
  }
  if (retention_unknown_.exchange(false)) {
    log::info("replay: what the events topic holds is known again", {{"topic", opts_.scan.topic}});
  }
  if (!r->emptied.empty() && !emptied_warned_.exchange(true)) {
    log::warn("replay: partitions of the events topic were emptied by retention; events they "
              "lost are not counted in the earliest replayable time",
              {{"topic", opts_.scan.topic}, {"partitions", r->emptied.size()}});
  }
  if (!r->earliest_ms) return std::nullopt;
  auto earliest = registry::from_unix_ms(*r->earliest_ms);
  return std::chrono::ceil<std::chrono::seconds>(earliest);
}

replays::~replays() { stop(); }

void replays::stop() {
  stopping_ = true;
  pool_.join();
}

namespace {

// The replay object, from its record's fields.
json replay_json(std::map<std::string, std::string>& f) {
  auto num = [&](const char* k) { return std::atoll(f[k].c_str()); };
  return json{{"id", f["id"]},
              {"object", "replay"},
              {"endpoint_id", f["endpoint_id"]},
              {"since", rfc3339_ms(num("since"))},
              {"until", rfc3339_ms(num("until"))},
              {"status", f["status"]},
              {"scanned", num("scanned")},
              {"matched", num("matched")},
              {"scheduled", num("scheduled")},
              {"error", f["error"].empty() ? json(nullptr) : json(f["error"])},
              {"created_at", rfc3339_ms(num("created_at"))},
              {"updated_at", rfc3339_ms(num("updated_at"))}};
}

}  // namespace

result<json> replays::start(const registry::endpoint& ep, clock::time_point since,
                            clock::time_point until) {
  auto op = start_op(ep, since, until);
  return redis::run(*redis_, op);
}

result<std::optional<json>> replays::get(std::string_view id, std::string_view business_id,
                                         bool livemode) {
  auto op = get_op(id, business_id, livemode);
  return redis::run(*redis_, op);
}

redis::operation<json> replays::start_op(const registry::endpoint& ep, clock::time_point since,
                                         clock::time_point until) {
  using op = redis::operation<json>;
  auto now = clock::now();
  std::string id = ids::time_ordered("rpl_", now);
  std::int64_t since_ms = registry::to_unix_ms(since);
  std::int64_t until_ms = registry::to_unix_ms(until);
  std::string key = keys::replay(id);
  std::string now_ms = std::to_string(registry::to_unix_ms(now));
  std::map<std::string, std::string> fields = {{"id", id},
                                               {"business_id", ep.business_id},
                                               {"livemode", ep.livemode ? "1" : "0"},
                                               {"endpoint_id", ep.id},
                                               {"since", std::to_string(since_ms)},
                                               {"until", std::to_string(until_ms)},
                                               {"status", "running"},
                                               {"scanned", "0"},
                                               {"matched", "0"},
                                               {"scheduled", "0"},
                                               {"error", ""},
                                               {"created_at", now_ms},
                                               {"updated_at", now_ms}};
  std::vector<std::string> hset{"HSET", key};
  for (const auto& [k, v] : fields) {
    hset.push_back(k);
    hset.push_back(v);
  }
  redis::request req;
  const std::string ttl = std::to_string(std::chrono::seconds(opts_.record_ttl).count());
  req.commands.add(hset).add({"EXPIRE", key, ttl});
  return op::one(std::move(req),
                 [this, ep, since_ms, until_ms, fields = std::move(fields)](
                     op&, redis::replies r) mutable -> std::optional<result<json>> {
                   if (auto s = redis::status_of(r); !s) return std::unexpected(s.error());
                   std::string id = fields["id"];
                   boost::asio::post(pool_, [this, id, ep, since_ms, until_ms] {
                     run(id, ep, since_ms, until_ms);
                   });
                   return replay_json(fields);
                 });
}

redis::operation<std::optional<json>> replays::get_op(std::string_view id,
                                                      std::string_view business_id,
                                                      bool livemode) {
  using op = redis::operation<std::optional<json>>;
  return op::one(redis::single_command({"HGETALL", keys::replay(id)}),
                 [business = std::string(business_id), livemode](
                     op&, redis::replies replies) -> std::optional<result<std::optional<json>>> {
                   auto r = redis::single_reply(std::move(replies));
                   if (!r) return std::unexpected(r.error());
                   if (r->elements.empty()) return result<std::optional<json>>(std::nullopt);
                   std::map<std::string, std::string> f;
                   for (std::size_t i = 0; i + 1 < r->elements.size(); i += 2) {
                     f[r->elements[i].str] = r->elements[i + 1].str;
                   }
                   if (f["business_id"] != business || f["livemode"] != (livemode ? "1" : "0")) {
                     return result<std::optional<json>>(std::nullopt);
                   }
                   return result<std::optional<json>>(replay_json(f));
                 });
}

void replays::run(std::string id, registry::endpoint ep, std::int64_t since_ms,
                  std::int64_t until_ms) {
  std::int64_t scanned = 0, matched = 0, scheduled = 0;
  std::string key = keys::replay(id);
  auto write_progress = [&](std::string_view status, std::string_view error) {
    (void)redis_->command({"HSET", key, "status", status, "scanned", std::to_string(scanned),
                           "matched", std::to_string(matched), "scheduled",
                           std::to_string(scheduled), "error", error, "updated_at",
                           std::to_string(registry::to_unix_ms(clock::now()))});
  };
  std::string failure;
  auto last_write = std::chrono::steady_clock::now();
  auto on_message = [&](const kafka::message& m) -> bool {
    if (stopping_) {
      failure = "dispatcher stopped";
      return false;
    }
    ++scanned;
    auto ev = tresse::events::parse_event(m.value);
    if (ev && ev->business_id == ep.business_id && ev->type != "webhook.test" &&
        ep.subscribes_to(ev->type, ev->livemode)) {
      ++matched;
      retry::task t;
      t.event_id = ev->id;
      t.endpoint_id = ep.id;
      t.business_id = ev->business_id;
      t.event_type = ev->type;
      t.body = std::move(ev->raw);
      t.first_attempt_at = clock::now();
      t.source = {m.topic, m.partition, m.offset, m.key};
      // An ordered endpoint: each to the back of its resource's queue, in window order.
      if (ep.order == registry::ordering::per_resource) t.resource = ordered::resource_of(t.body);
      // Redis down: retry briefly, then give up on the replay (the record says why).
      for (int tries = 0;; ++tries) {
        auto op = t.resource.empty() ? retries_.schedule_now_op(t, clock::now())
                                     : ordered::requeue_op(t, retries_.shards(), clock::now(), retries_.task_ttl());
        auto st = redis::run(*redis_, op);
        if (st) break;
        if (tries == 20 || stopping_) {
          failure = "redis: " + st.error().message;
          return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
      }
      ++scheduled;
    }
    if (std::chrono::steady_clock::now() - last_write > std::chrono::milliseconds(500)) {
      write_progress("running", "");
      last_write = std::chrono::steady_clock::now();
    }
    return true;
  };
  auto st = kafka::read_window(opts_.scan, since_ms, until_ms, on_message);
  if (!st && failure.empty()) failure = st.error().message;
  write_progress(failure.empty() ? "completed" : "failed", failure);
  log::info("replay finished", {{"replay", id},
                                {"endpoint", ep.id},
                                {"scanned", scanned},
                                {"matched", matched},
                                {"scheduled", scheduled},
                                {"error", failure}});
}

}  // namespace tresse::dispatcher::api
