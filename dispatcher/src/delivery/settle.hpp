// Settle: an attempt's result becomes exactly one hand-off: delivered, the retry schedule (a
// retry or a deferral), a dead letter, or the endpoint disabled.
//
// Delivery semantics (DESIGN.md): a Kafka record is committed only after each of its
// deliveries is handed off durably, and a delivery's attempt is logged before it is handed off
// (so `GET …/deliveries/{event_id}` and manual retry know every delivered event even across a
// Redis outage: the hand-off waits for Redis, and so does the commit). The writes go through
// the shard's redis_writer; dead letters (Kafka) and disabling an endpoint are rare and run on
// the blocking pool.
//
// Auto-disable: after `warn_after_dead_letters` deliveries in a row were dead-lettered,
// webhook_endpoint.failing goes to the ops topic and the log; an endpoint whose every attempt
// failed for `auto_disable_after` is disabled (webhook_endpoint.disabled, as for 410 Gone and
// `webhook-delivery: disable`). A success ends the streak.
//
// Ordered endpoints (ordered_queue.hpp): a delivery with a sequence number heads its resource's
// queue; its final hand-off (delivered, dead-lettered, endpoint disabled, dropped) releases the
// next one, in the same script that completes its retry task, and gives that one, claimed, to
// `on_released` to deliver at once. What reaches the shard behind a head that is in flight here
// is held in memory (ordered_chains.hpp), not entered: a delivered head passes to the first of
// it in one script (ordered::pass_call) and gives it, numbered, to `on_head`. Whatever ends the
// hold otherwise (the head failed, was deferred, dead-lettered or disabled its endpoint, the
// pass found Redis holding more, a hold lasted `endpoint_queue_timeout`) enters what is held,
// in order, so that it waits in Redis (handed off) behind the head. Stopping, it is dropped:
// never handed off, Kafka redelivers it.
//
// Runs on a shard's thread, with that shard's writer. It touches no endpoint state: whether a
// success resets the endpoint's failure streak is the lane's to say, beforehand
// (endpoint_lane::take_streak_reset).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "delivery/async_semaphore.hpp"
#include "delivery/attempt_log.hpp"
#include "delivery/context.hpp"
#include "delivery/endpoint_lane.hpp"
#include "delivery/ordered_chains.hpp"
#include "delivery/ordered_queue.hpp"
#include "delivery/redis_writer.hpp"

namespace tresse::dispatcher {

class settle {
 public:
  // Runs on the shard's thread with the next event of an ordered resource, claimed as a retry.
  using released_fn = std::function<void(retry::task)>;
  // Runs on the shard's thread with a delivery that heads its resource's queue now, numbered
  // (`sequence`): held behind a head that passed to it, or entered after a hold ended. Not
  // handed off yet: attempt it as a first delivery.
  using head_fn = std::function<void(delivery)>;

  settle(boost::asio::any_io_executor ex, context& ctx, redis_writer& writer, attempt_log& log,
         released_fn on_released, head_fn on_head)
      : ctx_(ctx),
        writer_(writer),
        log_(log),
        ex_(ex),
        deferring_(std::move(ex), max_deferrals_at_once),
        ordered_(writer, ctx.deps.retries.shards(), ctx.deps.retries.task_ttl(), ctx.options.retry_lease),
        on_released_(std::move(on_released)),
        on_head_(std::move(on_head)) {}

  enum class handoff { interrupted, done, gone };

  // A delivery to an ordered endpoint (with a resource), before any attempt: held behind its
  // resource's head in flight on this shard (moved from: settle sees to it), or not (false).
  bool hold_ordered(delivery& d);
  // One that was not held: its place in its resource's queue (head: attempt it now with that
  // sequence number; else it is handed off). nullopt: stopping. Whatever was held behind it
  // meanwhile is entered when it is not the head.
  boost::asio::awaitable<std::optional<ordered::place>> enter_ordered(const delivery& d);
  // A head released to us while stopping: made due for any instance now (ordered_queue::
  // hand_back). `ctx.active` was counted up for it by the caller; this coroutine takes it over.
  boost::asio::awaitable<void> hand_back(retry::task head);
  // Holds that lasted `endpoint_queue_timeout` end: what they held is entered (handed off).
  void enter_stale_holds();
  // A first delivery's attempt (`res.ran`). done: handed off; interrupted: shutdown came
  // first (no hand-off: Kafka redelivers). `reset_streak`: a success also resets the
  // endpoint's failure counters in Redis. `body_logged`: the record's fanout::body_logged.
  // `sequence` > 0: the head of its resource's queue (enter_ordered).
  boost::asio::awaitable<handoff> first(const event_meta& meta, const registry::endpoint& ep,
                                        bool reset_streak, const attempt_result& res,
                                        std::atomic<bool>& body_logged, std::uint64_t sequence);
  // A claimed retry's attempt (`res.ran`); `task` as claimed. The claim ends (completed or
  // rescheduled) unless interrupted.
  boost::asio::awaitable<handoff> retry(retry::task& task, const registry::endpoint& ep,
                                        bool reset_streak, const attempt_result& res);
  // A claimed retry whose endpoint is gone (deleted) or disabled.
  boost::asio::awaitable<void> drop(const retry::task& task, const registry::endpoint* ep);
  // A claimed task whose record keeps no body (an ordered event that waited, entered before
  // bodies went into the records: ordered_queue.hpp) reads it from its endpoint's body key,
  // and keeps that key beyond the task TTL from now, as each reschedule does for the record. nullopt: stopping; false: the
  // body is gone (only if Redis lost or evicted it): then lost_body().
  boost::asio::awaitable<std::optional<bool>> load_body(retry::task& task);
  // Never delivered empty: dead-lettered ("event_body_missing", without its original, the
  // reason naming the event) and finished, so an ordered resource moves on and the gap in its
  // numbers shows it.
  boost::asio::awaitable<void> lost_body(const retry::task& task);

  // Builds the retry task of a first delivery.
  static retry::task task_of(const event_meta& meta, const std::string& endpoint_id, int attempts,
                             std::string last_error, std::uint64_t sequence = 0);
  static event_meta meta_of(const retry::task& t);

 private:
  // A delivered attempt that needs no Redis write (no streak reset): counted here, without a
  // coroutine (the common case). False: delivered_or_disabled() has work to do.
  bool counted_delivered(const outcome& o, bool reset_streak);
  boost::asio::awaitable<bool> delivered_or_disabled(const registry::endpoint& ep,
                                                     bool reset_streak, const outcome& o);
  // Deferrals of one shard written at once. A full lane's queue times out all at once (ten
  // thousand deliveries behind a slow endpoint): each deferral copies its event for Redis, so
  // they go a few hundred at a time and the burst's memory stays bounded (bench/README.md, RSS).
  static constexpr std::size_t max_deferrals_at_once = 256;
  // Held while a deferral (no attempt made) is copied and stored. nullopt: stopping.
  struct deferral_slot_held {
    semaphore_permit permit;
    gauge_hold counted;  // tresse_deferrals_in_progress
  };
  boost::asio::awaitable<std::optional<deferral_slot_held>> deferral_slot();
  // Stores the task due at `due` (rescheduling it when `claimed`). nullopt: interrupted;
  // false: a claimed task another instance finished after our lease ran out.
  boost::asio::awaitable<std::optional<bool>> schedule(const retry::task& task, clock_time due,
                                                       bool claimed);
  // After a failed attempt: the next try, or a dead letter when the schedule is exhausted.
  enum class next_step { interrupted, scheduled, dead_lettered, gone };
  boost::asio::awaitable<next_step> retry_or_dead_letter(const retry::task& task, const outcome& o,
                                                         bool claimed);
  boost::asio::awaitable<bool> dead_letter(std::string_view reason, const retry::task& task);
  boost::asio::awaitable<bool> disable_endpoint(const registry::endpoint& ep, const outcome& o);
  boost::asio::awaitable<bool> complete(const std::string& task_id);
  // A claimed task's end: complete(), and for an ordered one the release of the next, at once.
  boost::asio::awaitable<bool> finish(const retry::task& task);
  // A head's release, and the next event to on_released_. False: stopping.
  boost::asio::awaitable<bool> release(const retry::task& head, bool complete_task);
  // A first delivery's end: the release of the next, when it heads a queue (`sequence` > 0).
  // `delivered`: it was, so it may pass to what is held behind it.
  boost::asio::awaitable<bool> release_head(const event_meta& meta, const std::string& endpoint_id,
                                            std::uint64_t sequence, bool delivered);
  // The head `meta` (`sequence` > 0; else nothing) stays the head in Redis (rescheduled or
  // deferred): its hold ends.
  void end_hold(const event_meta& meta, const std::string& endpoint_id, std::uint64_t sequence);
  // Enters `held` in this order, each placed as its own enter would be (ordered_queue::enter),
  // then attempted (on_head) or handed off. Stopping: dropped; an event of an endpoint deleted
  // meanwhile: handed off, not entered (its queues are purged).
  void enter_held(std::vector<delivery> held);
  boost::asio::awaitable<void> entered(delivery d, std::shared_ptr<const retry::task> task,
                                       ordered_queue::ticket queued);
  // The failure streak (counters in Redis), and auto-disable when it is long enough.
  boost::asio::awaitable<void> note_failure(const std::string& endpoint_id);
  // Blocking pool: the dead-letter streak, and webhook_endpoint.failing at its threshold.
  void note_dead_letter(const std::string& endpoint_id, bool exhausted);
  void publish_ops(const kafka::ops_event& e);

  context& ctx_;
  redis_writer& writer_;
  attempt_log& log_;
  boost::asio::any_io_executor ex_;
  async_semaphore deferring_;
  ordered_queue ordered_;
  ordered_chains chains_;
  released_fn on_released_;
  head_fn on_head_;
};

}  // namespace tresse::dispatcher
