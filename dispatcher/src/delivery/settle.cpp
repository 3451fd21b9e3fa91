#include "delivery/settle.hpp"

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include "tresse/common/log.hpp"

namespace tresse::dispatcher {
namespace asio = boost::asio;
using clock = std::chrono::system_clock;

retry::task settle::task_of(const event_meta& meta, const std::string& endpoint_id, int attempts,
                            std::string last_error, std::uint64_t sequence) {
  retry::task t;
  t.event_id = meta.id;
  t.endpoint_id = endpoint_id;
  t.business_id = meta.business_id;
  t.event_type = meta.type;
  t.body = *meta.body;
  t.attempts = attempts;
  t.first_attempt_at = clock::now();
  t.last_error = std::move(last_error);
  t.source = meta.source;
  t.sequence = sequence;
  t.resource = meta.resource;
  return t;
}

event_meta settle::meta_of(const retry::task& t) {
  event_meta meta;
  meta.id = t.event_id;
  meta.type = t.event_type;
  meta.business_id = t.business_id;
  meta.body = std::make_shared<const std::string>(t.body);
  meta.source = t.source;
  meta.resource = t.resource;
  return meta;
}

bool settle::hold_ordered(delivery& d) {
  if (!chains_.hold(d, std::chrono::steady_clock::now())) return false;
  ctx_.counters.ordered_held->add(1);
  return true;
}

asio::awaitable<std::optional<ordered::place>> settle::enter_ordered(const delivery& d) {
  chains_.open(d, std::chrono::steady_clock::now());
  const retry::task task = task_of(*d.meta, d.endpoint->id, 0, "queued");
  auto place = co_await ordered_.enter(task);
  if (!place || place->where != ordered::state::head || place->sequence == 0) {
    // Not a head in flight here (or delivered unnumbered, after a reply that was not the
    // script's): nothing may wait in memory behind it.
    enter_held(chains_.close(d.endpoint->id, *d.meta));  // stopping (no place): dropped
  }
  co_return place;
}

asio::awaitable<void> settle::hand_back(retry::task head) {
  active_guard active(ctx_.active);
  ctx_.active.fetch_sub(1);  // the guard holds it now
  co_await ordered_.hand_back(head);
}

void settle::enter_stale_holds() {
  for (auto& held : chains_.close_stale(std::chrono::steady_clock::now(),
                                        ctx_.options.endpoint_queue_timeout)) {
    enter_held(std::move(held));
  }
}

void settle::end_hold(const event_meta& meta, const std::string& endpoint_id,
                      std::uint64_t sequence) {
  if (sequence == 0) return;  // not an ordered head
  enter_held(chains_.close(endpoint_id, meta));
}

void settle::enter_held(std::vector<delivery> held) {
  ctx_.counters.ordered_held->add(-static_cast<double>(held.size()));
  if (held.empty() || ctx_.stopping) return;  // stopping: not handed off, Kafka redelivers
  // Queued here, one after the other, before anything else runs on the shard: a later arrival
  // of the same resource (not held now) is entered after them.
  for (auto& d : held) {
    if (ctx_.deps.endpoints.find(d.endpoint->id) == nullptr) {
      // Deleted meanwhile (its queues purged): nothing to deliver, nothing to queue.
      d.fan->one_done();
      continue;
    }
    auto task = std::make_shared<const retry::task>(task_of(*d.meta, d.endpoint->id, 0, "queued"));
    ordered_queue::ticket queued = ordered_.queue_enter(*task, ex_);
    ctx_.active.fetch_add(1);  // until the coroutine holds it: the drain must wait for its place
    asio::co_spawn(ex_, entered(std::move(d), std::move(task), std::move(queued)), asio::detached);
  }
}

asio::awaitable<void> settle::entered(delivery d, std::shared_ptr<const retry::task> task,
                                      ordered_queue::ticket queued) {
  active_guard active(ctx_.active);
  ctx_.active.fetch_sub(1);  // the guard holds it now
  (void)task;  // kept in this frame until placed: the call's batch points to it
  const auto place = co_await ordered_.placed(std::move(queued));
  if (!place) co_return;  // stopping: not handed off, Kafka redelivers
  if (place->where != ordered::state::head) {
    d.fan->one_done();  // waiting (or seen before): durably queued
    co_return;
  }
  d.sequence = place->sequence;
  if (on_head_) on_head_(std::move(d));
}

asio::awaitable<settle::handoff> settle::first(const event_meta& meta,
                                               const registry::endpoint& ep, bool reset_streak,
                                               const attempt_result& res,
                                               std::atomic<bool>& body_logged,
                                               std::uint64_t sequence) {
  if (res.deferred) {
    // No request made: the schedule still owes it every attempt.
    const auto slot = co_await deferral_slot();
    if (!slot) co_return handoff::interrupted;
    const retry::task task = task_of(meta, ep.id, 0, "deferred", sequence);
    auto stored = co_await schedule(task, res.defer_due, false);
    if (!stored) co_return handoff::interrupted;
    ctx_.counters.deferred->inc();
    end_hold(meta, ep.id, sequence);
    co_return handoff::done;
  }
  // The record's first logged delivery keeps the body and sets the event list's TTL; the
  // others only push onto that list (one that reaches Redis first makes the list, which then
  // lacks a TTL for the moment until the first one's write). An interrupted log leaves the
  // record uncommitted: its redelivery logs the body and the TTL again.
  const bool first_of_record = !body_logged.exchange(true);
  const std::string_view body =
      first_of_record && meta.body ? std::string_view(*meta.body) : std::string_view{};
  if (!co_await log_.write(res.record, body, first_of_record)) co_return handoff::interrupted;
  if (sequence == 0 && counted_delivered(res.result, reset_streak)) co_return handoff::done;
  if (res.result.next != outcome::action::retry) {
    if (!co_await delivered_or_disabled(ep, reset_streak, res.result)) {
      co_return handoff::interrupted;
    }
    const bool delivered = res.result.next == outcome::action::delivered;
    co_return co_await release_head(meta, ep.id, sequence, delivered) ? handoff::done
                                                                      : handoff::interrupted;
  }
  const retry::task task = task_of(meta, ep.id, 1, res.describe(), sequence);
  auto step = co_await retry_or_dead_letter(task, res.result, false);
  if (step == next_step::dead_lettered && !co_await release_head(meta, ep.id, sequence, false)) {
    co_return handoff::interrupted;
  }
  if (step == next_step::scheduled) end_hold(meta, ep.id, sequence);
  co_return step == next_step::interrupted ? handoff::interrupted : handoff::done;
}

asio::awaitable<settle::handoff> settle::retry(retry::task& task, const registry::endpoint& ep,
                                               bool reset_streak, const attempt_result& res) {
  if (res.deferred) {
    // Replaces the claim, attempts unchanged.
    const auto slot = co_await deferral_slot();
    if (!slot) co_return handoff::interrupted;
    auto stored = co_await schedule(task, res.defer_due, true);
    if (!stored) co_return handoff::interrupted;
    if (!*stored) co_return handoff::gone;
    ctx_.counters.deferred->inc();
    co_return handoff::done;
  }
  // The body goes with the event's first logged attempt. A task with no attempt yet (an ordered
  // event that waited, a deferred first delivery) made none before this one.
  const std::string_view body =
      task.attempts == 0 ? std::string_view(task.body) : std::string_view{};
  if (!co_await log_.write(res.record, body)) co_return handoff::interrupted;
  if (res.result.next != outcome::action::retry) {
    if (!co_await delivered_or_disabled(ep, reset_streak, res.result)) {
      co_return handoff::interrupted;
    }
    co_return co_await finish(task) ? handoff::done : handoff::interrupted;
  }
  task.attempts = res.record.attempt;
  task.last_error = res.describe();
  // Rescheduling replaces the claim; a dead letter still has to complete it.
  auto step = co_await retry_or_dead_letter(task, res.result, true);
  if (step == next_step::interrupted) co_return handoff::interrupted;
  if (step == next_step::gone) co_return handoff::gone;
  if (step == next_step::dead_lettered && !co_await finish(task)) co_return handoff::interrupted;
  co_return handoff::done;
}

asio::awaitable<void> settle::drop(const retry::task& task, const registry::endpoint* ep) {
  if (ep == nullptr) {
    log::info("retry dropped: endpoint deleted",
              {{"event", task.event_id}, {"endpoint", task.endpoint_id}});
    co_await finish(task);
    co_return;
  }
  retry::task t = task;
  t.last_error = ep->disabled_reason;
  if (co_await dead_letter("endpoint_disabled", t)) co_await finish(task);
}

asio::awaitable<std::optional<bool>> settle::load_body(retry::task& task) {
  const redis::request read =
      ordered::body_call(task, ctx_.deps.retries.shards(), ctx_.deps.retries.task_ttl());
  auto got = co_await writer_.write(read, "read event body");
  if (!got) co_return std::nullopt;
  if (got->empty() || got->front().type != redis::reply::kind::string) co_return false;
  task.body = std::move(got->front().str);
  co_return true;
}

asio::awaitable<void> settle::lost_body(const retry::task& task) {
  log::error("event body gone from redis; dead-lettered without it",
             {{"event", task.event_id}, {"endpoint", task.endpoint_id}});
  retry::task t = task;  // the letter has no event to show: its reason names it
  t.last_error = "the body of " + task.event_id + " is gone from redis";
  if (co_await dead_letter("event_body_missing", t)) co_await finish(task);
}

bool settle::counted_delivered(const outcome& o, bool reset_streak) {
  if (o.next != outcome::action::delivered || reset_streak) return false;
  ctx_.counters.delivered->inc();
  return true;
}

asio::awaitable<bool> settle::delivered_or_disabled(const registry::endpoint& ep,
                                                    bool reset_streak, const outcome& o) {
  if (o.next == outcome::action::disable_endpoint) co_return co_await disable_endpoint(ep, o);
  ctx_.counters.delivered->inc();
  if (reset_streak) {
    // Best effort, as a counter: a lost reset is redone by the next success a second later.
    const auto reset = registry::store::record_success_call(ep.id);
    (void)co_await writer_.try_once(reset);
  }
  co_return true;
}

asio::awaitable<std::optional<settle::deferral_slot_held>> settle::deferral_slot() {
  if (!deferring_.try_acquire()) {  // no coroutine when a slot is free
    const gauge_hold waiting(ctx_.counters.deferrals_waiting);
    const bool got = co_await deferring_.acquire();
    if (!got) co_return std::nullopt;
  }
  co_return deferral_slot_held{semaphore_permit(&deferring_), gauge_hold(ctx_.counters.deferring)};
}

asio::awaitable<std::optional<bool>> settle::schedule(const retry::task& task, clock_time due,
                                                      bool claimed) {
  if (!claimed) {
    const auto call = ctx_.deps.retries.schedule_call(task, due);
    auto r = co_await writer_.write(call, "schedule delivery");
    if (!r) co_return std::nullopt;
    co_return true;  // idempotent per task id: an existing task stays as it is
  }
  const auto call = ctx_.deps.retries.reschedule_call(task, due);
  auto r = co_await writer_.write(call, "reschedule delivery");
  if (!r) co_return std::nullopt;
  co_return !r->empty() && r->front().integer == 1;
}

asio::awaitable<settle::next_step> settle::retry_or_dead_letter(const retry::task& task,
                                                                const outcome& o, bool claimed) {
  co_await note_failure(task.endpoint_id);
  std::optional<std::chrono::milliseconds> hint;
  if (o.retry_after) hint = *o.retry_after;
  if (o.permanent) {
    co_return co_await dead_letter("permanent_failure", task) ? next_step::dead_lettered
                                                              : next_step::interrupted;
  }
  auto delay = ctx_.deps.schedule.next_delay(task.attempts, hint);
  if (delay) {
    auto stored = co_await schedule(task, clock::now() + *delay, claimed);
    if (!stored) co_return next_step::interrupted;
    if (!*stored) co_return next_step::gone;  // another instance finished it after our lease
    ctx_.counters.scheduled->inc();
    co_return next_step::scheduled;
  }
  co_return co_await dead_letter("retries_exhausted", task) ? next_step::dead_lettered
                                                            : next_step::interrupted;
}

asio::awaitable<bool> settle::complete(const std::string& task_id) {
  const auto commands = ctx_.deps.retries.complete_commands(task_id);
  co_return (co_await writer_.write(commands, "complete retry")).has_value();
}

asio::awaitable<bool> settle::release_head(const event_meta& meta, const std::string& endpoint_id,
                                          std::uint64_t sequence, bool delivered) {
  if (sequence == 0) co_return true;
  // Until this ends, the sweep leaves the chain alone, and what arrives meanwhile is held.
  chains_.set_passing(endpoint_id, meta, true);
  const ordered_chains::held* next = chains_.next(endpoint_id, meta);
  if (next != nullptr && delivered && !ctx_.stopping) {
    // The common case: one script, and the next is attempted at once.
    const auto now = std::chrono::steady_clock::now();
    const bool renew = chains_.ttl_due(endpoint_id, meta, now);
    const std::string next_event = next->d.meta->id;
    const auto p = co_await ordered_.pass(endpoint_id, meta.resource, meta.id, next_event, renew);
    if (!p) {
      enter_held(chains_.close(endpoint_id, meta));  // stopping: dropped
      co_return false;
    }
    if (p->result == ordered::pass_result::passed) {
      if (renew) chains_.ttl_renewed(endpoint_id, meta, now);
      delivery d = chains_.advance(endpoint_id, meta);
      ctx_.counters.ordered_held->add(-1);
      d.sequence = p->sequence;
      ordered_.passed_to(d.endpoint->id, d.meta->resource, p->sequence);
      if (on_head_) on_head_(std::move(d));
      co_return true;
    }
    if (p->result == ordered::pass_result::not_head) {  // released already (elsewhere)
      enter_held(chains_.close(endpoint_id, meta));
      co_return true;
    }
    // Taken: Redis holds more for the resource; the usual release, then what is held.
  }
  retry::task head;  // what the release names: no body
  head.event_id = meta.id;
  head.endpoint_id = endpoint_id;
  head.resource = meta.resource;
  head.sequence = sequence;
  const bool released = co_await release(head, /*complete_task=*/false);
  enter_held(chains_.close(endpoint_id, meta));  // after the release; dropped when stopping
  co_return released;
}

asio::awaitable<bool> settle::finish(const retry::task& task) {
  if (task.sequence == 0) co_return co_await complete(task.id());
  co_return co_await release(task, /*complete_task=*/true);
}

asio::awaitable<bool> settle::release(const retry::task& head, bool complete_task) {
  auto r = co_await ordered_.release(head, complete_task);
  if (!r) co_return false;
  if (r->next && on_released_) on_released_(std::move(*r->next));
  co_return true;
}

asio::awaitable<bool> settle::dead_letter(std::string_view reason, const retry::task& task) {
  // Rare, and a Kafka produce that waits for the broker: the blocking pool.
  kafka::dead_letter dl;
  dl.reason = std::string(reason);
  if (!task.last_error.empty()) dl.reason += " (last: " + task.last_error + ")";
  dl.original = task.body;
  dl.business_id = task.business_id;
  dl.endpoint_id = task.endpoint_id;
  dl.source = task.source;
  auto read_history = [this, &task] {
    return ctx_.deps.retries.attempts_for_event(task.endpoint_id, task.event_id);
  };
  if (auto history = co_await offload(ctx_, read_history)) {
    for (const auto& a : *history) dl.attempts.push_back(retry::to_json(a));
  }
  std::function<status()> produce = [this, &dl] { return ctx_.deps.dead_letters.produce_and_wait(dl); };
  if (!co_await durably(ctx_, "dead-letter delivery", produce)) co_return false;
  ctx_.counters.dead_lettered->inc();
  const bool exhausted = reason == "retries_exhausted";
  asio::post(ctx_.blocking, [this, id = task.endpoint_id, exhausted] { note_dead_letter(id, exhausted); });
  log::warn("delivery dead-lettered", {{"event", task.event_id},
                                       {"endpoint", task.endpoint_id},
                                       {"attempts", task.attempts},
                                       {"reason", reason}});
  co_return true;
}

asio::awaitable<bool> settle::disable_endpoint(const registry::endpoint& ep, const outcome& o) {
  ctx_.counters.disabled->inc();
  log::warn("endpoint disabled", {{"endpoint", ep.id}, {"business", ep.business_id}, {"reason", o.reason}});
  // Several attempts in flight may all be told to disable: the ops event goes out once, by
  // whoever finds the endpoint still enabled.
  bool was_enabled = false;
  std::function<status()> disable = [this, &ep, &o, &was_enabled]() -> status {
    auto r = ctx_.deps.registry.disable_if_enabled(ep.id, o.reason);
    if (!r) return std::unexpected(r.error());
    was_enabled = *r;
    return {};
  };
  const bool ok = co_await durably(ctx_, "disable endpoint", disable);
  if (ok && was_enabled) {
    kafka::ops_event e{.type = kafka::ops_event_type::disabled,
                       .business_id = ep.business_id,
                       .endpoint_id = ep.id,
                       .url = ep.url,
                       .reason = o.reason};
    asio::post(ctx_.blocking, [this, e = std::move(e)] { publish_ops(e); });
  }
  co_return ok;
}

asio::awaitable<void> settle::note_failure(const std::string& endpoint_id) {
  const auto call = ctx_.deps.registry.record_failure_call(endpoint_id);
  redis::replies got = co_await writer_.try_once(call);
  auto r = redis::single_reply(std::move(got));
  if (!r) co_return;  // a counter: the next failure counts again
  const auto streak = registry::store::failure_streak_from_reply(*r);
  if (!streak.failing_since || ctx_.options.auto_disable_after.count() <= 0) co_return;
  if (clock::now() - *streak.failing_since < ctx_.options.auto_disable_after) co_return;
  // Rare: the registry's own read-and-disable, on the blocking pool. Not the cache: another
  // failure (here or elsewhere) may have disabled it a moment ago, and the event goes out once.
  const auto since = *streak.failing_since;
  asio::post(ctx_.blocking, [this, endpoint_id, since] {
    auto ep = ctx_.deps.registry.get(endpoint_id);
    if (!ep || !*ep || !(*ep)->enabled) return;
    auto done = ctx_.deps.registry.disable_if_enabled(endpoint_id, "failing_continuously");
    if (!done || !*done) return;
    ctx_.counters.disabled->inc();
    const auto& e = **ep;
    log::warn("endpoint disabled", {{"endpoint", e.id},
                                    {"business", e.business_id},
                                    {"reason", "failing_continuously"},
                                    {"failing_since", events::format_rfc3339(since)}});
    publish_ops({.type = kafka::ops_event_type::disabled,
                 .business_id = e.business_id,
                 .endpoint_id = e.id,
                 .url = e.url,
                 .reason = "failing_continuously",
                 .failing_since = since});
  });
}

void settle::note_dead_letter(const std::string& endpoint_id, bool exhausted) {
  auto n = ctx_.deps.registry.record_dead_letter(endpoint_id, exhausted);
  // Exactly at the threshold: once per streak.
  if (!n || !exhausted || ctx_.options.warn_after_dead_letters <= 0 ||
      *n != ctx_.options.warn_after_dead_letters) {
    return;
  }
  auto ep = ctx_.deps.endpoints.find(endpoint_id);
  if (!ep) return;
  log::warn("endpoint failing", {{"endpoint", ep->id},
                                 {"business", ep->business_id},
                                 {"consecutive_dead_lettered", *n}});
  publish_ops({.type = kafka::ops_event_type::failing,
               .business_id = ep->business_id,
               .endpoint_id = ep->id,
               .url = ep->url,
               .reason = "retries_exhausted",
               .consecutive_dead_lettered = *n});
}

void settle::publish_ops(const kafka::ops_event& e) {
  if (ctx_.deps.ops == nullptr) return;
  if (auto st = ctx_.deps.ops->publish(e); !st) {
    log::warn("ops event not published",
              {{"type", kafka::to_string(e.type)}, {"endpoint", e.endpoint_id},
               {"error", st.error().message}});
  }
}

}  // namespace tresse::dispatcher
