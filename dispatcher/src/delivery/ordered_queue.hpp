// Ordered delivery per resource (DESIGN.md "Ordered delivery"): for an endpoint with
// `ordering: "per_resource"`, the events of one resource (the event's data.id) are attempted
// strictly in Kafka order, each carrying `tresse-sequence: <n>` (1, 2, 3 … per endpoint and
// resource, the same on every attempt); a stuck resource holds back no other.
//
// All the state is in Redis (keys: redis/keys.hpp, tresse:{rs<n>}:ordered:<we_…>:…), changed by
// three scripts (and a deleted endpoint's purge), so that nothing is lost or reordered when an
// instance dies:
// - enter (intake): idempotent by event id (Kafka redelivers after a crash). A new event gets
//   the resource's next number; with no head it becomes the head and is attempted now,
//   otherwise it joins the waiting list, its retry task record (with the body) stored beside
//   it, and counts as handed off (its offset may commit). An endpoint's enters go in batches, one script call
//   each. An event seen before keeps its number; if it is the head and has no retry task (its
//   instance died before handing it off), it goes onto the retry schedule, due now.
// - release (settling the head: delivered, dead-lettered, endpoint disabled or deleted): clears
//   the head and makes the next waiting event the head, leased to the releasing instance
//   (retry::task::leased: the resource's hash names its holder, on no schedule), and returns
//   it: that instance delivers it at once on the endpoint's shard (one Redis round trip between
//   a resource's events, not a poll of the schedule). An instance holds what it was released
//   on an endpoint until a time its releases renew (one member of the shard's holders zset per
//   instance and endpoint, not a claim per head). If it dies, its holder lapses, and a walk of
//   the endpoint's resources by any instance (recover_op, a retry poll's) makes its heads due.
//   A failed head is rescheduled as usual and stays the head. A dead-lettered head lets the
//   next go: the gap in the numbers shows it.
// - requeue (manual retry, replay): the event goes to the back of its resource's queue with a
//   new number (due now if the queue was empty).
// - pass (a delivered head and the next event its shard held in memory, not entered:
//   ordered_chains.hpp): the next is numbered and made the head in one call, with nothing
//   written for it to wait in; it is not handed off until its own attempt is, so a crash
//   brings it back through Kafka and enter.
//
// An unordered endpoint never reaches this file: no command, no allocation.
//
//   ordered_queue q(ctx, writer);
//   auto place = co_await q.enter(task, now);   // task: settle::task_of(...) with resource
//   if (place && place->state == ordered::state::head) attempt(sequence = place->sequence);
//   ... final hand-off ...
//   auto r = co_await q.release(task, /*complete_task=*/false);
//   if (r && r->next) deliver_now(*r->next);   // claimed for us

#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <unordered_map>
#include <vector>

#include "delivery/ordered_memory.hpp"
#include "redis/request.hpp"
#include "retry/store.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher {

class redis_writer;

namespace ordered {

using clock = std::chrono::system_clock;

// How long a resource's numbering and an event's number are kept after the resource's last
// event: a resource idle this long starts again at 1.
inline constexpr std::chrono::milliseconds sequence_ttl = std::chrono::hours(24 * 30);
// How far a resource's oldest-wait score may lag its waiting list's front: a release leaves it
// while the new front was queued within this of it (ordered_queue::release).
inline constexpr std::chrono::milliseconds oldest_score_slack = std::chrono::seconds(1);

// The event's resource: data.id when it is a string of 1-128 [A-Za-z0-9_-]; "" otherwise (then
// the event is delivered unordered, without tresse-sequence).
std::string resource_of(std::string_view event_body);

enum class state {
  head,     // enter: attempt it now, with `sequence`
  waiting,  // enter, requeue: behind the head; handed off
  known,    // enter: seen before (waiting, head or done); handed off
  pending,  // requeue: it is the head or already waiting; nothing changed
  due,      // requeue: the queue was empty: it is the head, due now on the retry schedule
};

struct place {
  std::uint64_t sequence = 0;
  state where = state::known;
};

// `t`: the delivery's retry task (sequence unset, resource set), as stored for a waiting event.
// `shards`: the retry schedule's (retry::store::shards()); an endpoint's queues live under its
// retry shard's hash tag (redis/keys.hpp).
redis::request enter_call(const retry::task& t, std::size_t shards, clock::time_point now,
                          std::chrono::milliseconds task_ttl);
// Several events of one endpoint in one call, placed in this order; the reply has a place for
// each (places_from_reply).
redis::request enter_batch_call(const std::vector<const retry::task*>& batch, std::size_t shards,
                                clock::time_point now, std::chrono::milliseconds task_ttl);
redis::request requeue_call(const retry::task& t, std::size_t shards, clock::time_point now,
                            std::chrono::milliseconds task_ttl);
// Settles the head `t` (its endpoint, resource and event); with `complete_task` its retry task
// is completed in the same script (as retry::store::complete_commands). The next waiting event
// becomes the head, claimed until now + `lease` (retry::store::claim_due's lease). The script
// reads only keys it is given, so it must be told the next waiting task id and the one after
// (`next`, `after`; "" when unknown or none): without them, or when they are not the list's
// front, its reply asks for them (released::ask) and nothing is released yet. release_op makes
// the calls.
// What the caller remembers of `next` (ordered_memory.hpp), so that the script checks it (the
// list's front and the one after, that its record is there) and neither reads nor returns its
// record (released::remembered). The caller vouches for its number.
struct hint {
  std::string next;   // the task id of the front of the waiting list
  std::string after;  // the task id after it; "" none
  std::string event_id;
  std::uint64_t sequence = 0;           // next's
  std::int64_t after_queued_at_ms = 0;  // after's queueing (the oldest wait); 0: the score stays
  // next's enter gave the resource's numbering a TTL that outlives the head's retries: the
  // release leaves it.
  bool keeps_ttls = false;
};
// Who a release leases the next head to: `id` is the instance's (ordered_queue's) holder id;
// `renew`: its lease on the endpoint's heads is written anew, until now + lease (ordered_queue
// renews it every lease/4; the walk that finds it lapsed takes longer than that to start).
struct lease_holder {
  std::string id;
  bool renew = true;
};
redis::request release_call(const retry::task& t, std::size_t shards, bool complete_task,
                            clock::time_point now, std::chrono::milliseconds task_ttl,
                            std::chrono::milliseconds lease, const lease_holder& holder,
                            std::string_view next = {}, std::string_view after = {},
                            const hint* remembered = nullptr);
// The body of `t`, a body-less record of the layout before bodies went into the records
// (2026-12-02: its endpoint's body key keys::ordered_body held it), kept beyond `ttl` from now.
// Its reply: the body, or nil when gone.
redis::request body_call(const retry::task& t, std::size_t shards, std::chrono::milliseconds ttl);
// The delivered head `head_event` (an entered or passed one: on no schedule, no record) hands
// over to `next_event`, the next event of its resource, held in memory behind it and not
// entered (ordered_chains.hpp), in one script: `next_event` is numbered and made the head,
// unleased (not handed off: if its instance dies, Kafka redelivers it and enter makes it due).
// No waiting record, list entry or lease. Only when nothing waits in Redis for the resource and
// `next_event` has no number yet (taken: nothing changed; release the head and enter what is
// held instead). `renew_ttl`: the resource's numbering gets the sequence TTL again.
enum class pass_result { passed, not_head, taken };
struct passed {
  pass_result result = pass_result::taken;
  std::uint64_t sequence = 0;  // passed: next's number
};
redis::request pass_call(std::string_view endpoint_id, std::string_view resource,
                         std::string_view head_event, std::string_view next_event,
                         std::size_t shards, bool renew_ttl);
result<passed> passed_from_reply(const redis::reply& r);
// A deleted endpoint's queues: removes up to `budget` waiting events (their task records) and
// emptied resources (numbering, waiting list). Reply: the resources left; call again until 0.
// The per-event numbers (keys::ordered_event) are left to their TTL: nothing indexes them.
redis::request purge_call(std::string_view endpoint_id, std::size_t shards,
                          std::size_t budget = 100);
struct released {
  bool was_head = false;            // false: already released (a duplicate hand-off)
  std::optional<retry::task> next;  // the new head, claimed: the caller delivers it
  // Set: nothing released yet; call again naming these (the next waiting task id, the one
  // after it or ""). release_op does.
  std::optional<std::pair<std::string, std::string>> ask;
  // The hinted next is the head now, claimed (`next` is unset: the caller has its task).
  bool remembered = false;
};
result<released> released_from_reply(const redis::reply& r);
// release_call until the script has released (one round trip when nothing waits or the hint is
// right, two when an event waits unhinted; more only when the waiting list changed in between).
redis::operation<released> release_op(const retry::task& t, std::size_t shards,
                                      bool complete_task, clock::time_point now,
                                      std::chrono::milliseconds task_ttl,
                                      std::chrono::milliseconds lease, const lease_holder& holder,
                                      const std::optional<hint>& remembered = std::nullopt);
// A resource's head, by event id, as a walk found it leased to a lapsed holder.
struct held_head {
  std::string resource;
  std::string event_id;
};
// Each of `heads` still leased to `holder` (the resource's hash says so) is no longer, and due
// now unless its record is gone or it is on the schedule already; reply: how many were made due.
// The walk's step (recover_op), and migrate-keys' for the heads it moves (every holder stopped).
redis::request recover_heads_call(std::size_t shard, std::string_view endpoint_id,
                                  std::string_view holder, const std::vector<held_head>& heads,
                                  clock::time_point now, std::chrono::milliseconds task_ttl);
// The heads of a holder that lapsed (its instance died, or released nothing on the endpoint
// for a lease), in retry shard `shard`: the first lapsed holder is taken for this walk until
// now + lease, the endpoint's resource index scanned `batch` at a time, and every head still
// leased to it made due now (its record kept; one already on the schedule left there); then
// the holder is removed unless it renewed meanwhile. A walker that fails or dies midway leaves
// the holder to lapse again for the next walk. Returns whether a holder was walked and how
// many heads were made due: call again while one was.
struct recovered {
  bool walked = false;
  std::size_t heads = 0;
};
redis::operation<recovered> recover_op(std::size_t shard, clock::time_point now,
                                       std::chrono::milliseconds lease,
                                       std::chrono::milliseconds task_ttl,
                                       std::size_t batch = 200);
result<place> place_from_reply(const redis::reply& r);
result<std::vector<place>> places_from_reply(const redis::reply& r, std::size_t count);
// A manual retry or replay of `t` to an ordered endpoint (t.resource set), with the meaning of
// retry::store::schedule_now_op: false when the event is in progress (it is the head, or waits
// already), true when it was queued.
redis::operation<bool> requeue_op(const retry::task& t, std::size_t shards, clock::time_point now,
                                  std::chrono::milliseconds task_ttl);

// What waits in one endpoint's ordered queues.
struct backlog {
  std::int64_t waiting = 0;
  std::optional<clock::time_point> oldest_queued_at;  // the longest-waiting event's queueing
};
redis::request backlog_commands(std::string_view endpoint_id, std::size_t shards);
result<backlog> backlog_from_replies(const std::vector<redis::reply>& r);
redis::operation<backlog> backlog_op(std::string_view endpoint_id,
                                     std::size_t shards);  // either client
// Several endpoints' backlogs in one pipeline: the waiting summed, the oldest of all.
redis::operation<backlog> total_backlog_op(const std::vector<std::string>& endpoint_ids,
                                           std::size_t shards);

}  // namespace ordered

// The delivery path's side: the scripts through the shard's writer (durable: they retry until
// Redis took them; nullopt / false only when stopping).
//
// Redis must run one resource's enters in Kafka order, and concurrent requests do not keep
// theirs: a write retried after an outage, or an EVALSHA answered NOSCRIPT and sent again as
// EVAL, lands after requests sent later. So an endpoint's enters go in batches, one call at a
// time, each in the order enter() was called (on the shard's thread): what arrives while a
// call is out waits for the next, which takes it all (up to `max_batch` events) in one script
// call and one round trip. Other endpoints do not wait.
//
// What its enters placed as waiting it remembers (ordered_memory.hpp, bounded by `memory`):
// a release names the next event from there, and a confirmed hint is delivered from memory.
class ordered_queue {
 public:
  // `lease`: how long a released next event is claimed (engine_options::retry_lease).
  ordered_queue(redis_writer& writer, std::size_t shards, std::chrono::milliseconds task_ttl,
                std::chrono::milliseconds lease, ordered_memory::limits memory = {});

  // `t` must outlive the co_await (a named local).
  boost::asio::awaitable<std::optional<ordered::place>> enter(const retry::task& t);
  // enter() in two steps: queue_enter() takes `t`'s place in the endpoint's next call now (so
  // that events queued one after the other are placed in that order, whatever runs between),
  // placed() waits for it. `t` must outlive placed().
  class ticket;
  ticket queue_enter(const retry::task& t, const boost::asio::any_io_executor& ex);
  boost::asio::awaitable<std::optional<ordered::place>> placed(ticket t);
  // A head a release leased to us that we will not deliver (we are stopping): no longer ours,
  // and due now for any instance (ordered::recover_heads_call), rather than held until our
  // lease lapses and a walk finds it. Best effort: if Redis does not take it, the walk will.
  boost::asio::awaitable<void> hand_back(const retry::task& head);
  // ordered::pass_call through the writer. nullopt: stopping.
  boost::asio::awaitable<std::optional<ordered::passed>> pass(std::string_view endpoint_id,
                                                              std::string_view resource,
                                                              std::string_view head_event,
                                                              std::string_view next_event,
                                                              bool renew_ttl);
  // nullopt: stopping (not released; Kafka or the lease brings it back).
  boost::asio::awaitable<std::optional<ordered::released>> release(const retry::task& t,
                                                                   bool complete_task);
  // A pass made the resource's next event the head, numbered `sequence`: remembered as an
  // enter that made it the head would be (nothing waits behind it in Redis).
  void passed_to(std::string_view endpoint_id, std::string_view resource, std::uint64_t sequence) {
    memory_.headed(endpoint_id, resource, sequence);
  }
  const ordered_memory& memory() const { return memory_; }
  // Who the heads released here are leased to: random per queue (a restarted instance, or
  // another engine in the process, is another holder).
  const std::string& holder() const { return holder_; }

 private:
  struct batch;

 public:
  class ticket {
    friend class ordered_queue;
    std::shared_ptr<batch> batch_;
    std::size_t index_ = 0;
  };

 private:
  // A script call keeps Redis busy for all of it: ~10 us an event.
  static constexpr std::size_t max_batch = 256;
  struct batch {
    explicit batch(const boost::asio::any_io_executor& ex)
        : wake(ex, boost::asio::steady_timer::time_point::max()) {}
    std::vector<const retry::task*> tasks;  // point into the waiting enters' frames
    std::vector<ordered::place> places;     // one per task, once done
    std::optional<bool> done;               // false: stopping
    boost::asio::steady_timer wake;         // cancelled when done
  };
  // An enter call's places, remembered (`now_ms`: the call's, the waiting events' queueing).
  void remember(const std::vector<const retry::task*>& tasks,
                const std::vector<ordered::place>& places, std::int64_t now_ms);
  // Sends the endpoint's batches one after the other until none is left.
  boost::asio::awaitable<void> flush(std::string endpoint_id);

  redis_writer& writer_;
  std::size_t shards_;
  std::chrono::milliseconds task_ttl_;
  std::chrono::milliseconds lease_;
  ordered_memory memory_;
  std::string holder_;
  // When each endpoint's holder lease was last renewed by a release that Redis ran.
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> renewed_;
  // Endpoints with a flush under way: their batches not yet sent, oldest first.
  std::unordered_map<std::string, std::deque<std::shared_ptr<batch>>> intakes_;
};

}  // namespace tresse::dispatcher
