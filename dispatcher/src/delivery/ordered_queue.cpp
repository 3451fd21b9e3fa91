#include "delivery/ordered_queue.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "delivery/intake.hpp"
#include "delivery/redis_writer.hpp"
#include "redis/keys.hpp"
#include "tresse/common/event.hpp"
#include "tresse/common/log.hpp"

namespace tresse::dispatcher {
namespace ordered {
namespace {

namespace keys = redis::keys;

std::int64_t unix_ms(clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// KEYS: sequence hash, waiting list, event key, backlog hash, oldest zset, task hash, retry due,
// the endpoint's resource index, its retry task index (all under its retry shard's tag).
// ARGV: event id, task id, now ms, task ttl ms, sequence ttl ms, resource, mode ("enter" or
// "requeue"), then the task record's field/value pairs.
// Returns {sequence, state}: 1 head (attempt now), 0 waiting, 2 known, 3 pending, 4 due.
const redis::script& place_script() {
  static const redis::script s(R"lua(
local known = redis.call('GET', KEYS[3])
local head = redis.call('HGET', KEYS[1], 'head')
if ARGV[7] == 'enter' then
  if known then
    if head == ARGV[1] and redis.call('EXISTS', KEYS[6]) == 0 then
      -- Redelivered by Kafka while still the head, with no retry task: its instance died
      -- before handing it off. Due now, for whichever instance claims it.
      redis.call('HSET', KEYS[6], 'sequence', known, 'resource', ARGV[6], unpack(ARGV, 8))
      redis.call('PEXPIRE', KEYS[6], ARGV[4])
      redis.call('ZADD', KEYS[7], ARGV[3], ARGV[2])
      redis.call('SADD', KEYS[9], ARGV[2])
    end
    return {tonumber(known), 2}
  end
elseif head == ARGV[1] or redis.call('EXISTS', KEYS[6]) == 1 then
  return {tonumber(known) or 0, 3}
end
local n = redis.call('HINCRBY', KEYS[1], 'last', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('SADD', KEYS[8], ARGV[6])
redis.call('PEXPIRE', KEYS[8], ARGV[5])
redis.call('SET', KEYS[3], n, 'PX', ARGV[5])
if not head then
  redis.call('HSET', KEYS[1], 'head', ARGV[1], 'head_seq', n)
  if ARGV[7] == 'enter' then return {n, 1} end
  redis.call('HSET', KEYS[6], 'sequence', n, 'resource', ARGV[6], unpack(ARGV, 8))
  redis.call('PEXPIRE', KEYS[6], ARGV[4])
  redis.call('ZADD', KEYS[7], ARGV[3], ARGV[2])
  redis.call('SADD', KEYS[9], ARGV[2])
  return {n, 4}
end
-- Waiting: its record lives as long as the list that holds it (the task TTL could run out
-- while heads ahead of it take their whole schedules); released, it gets the task TTL.
redis.call('HSET', KEYS[6], 'sequence', n, 'resource', ARGV[6], 'queued_at', ARGV[3],
           unpack(ARGV, 8))
redis.call('PEXPIRE', KEYS[6], ARGV[5])
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('HINCRBY', KEYS[4], 'waiting', 1)
redis.call('ZADD', KEYS[5], 'NX', ARGV[3], ARGV[6])
return {n, 0}
)lua");
  return s;
}

// KEYS: sequence hash, waiting list, backlog hash, oldest zset, retry due, retry claimed, the
// settled task's hash, the endpoint's retry task index. ARGV: event id, settled task id ("": no task to complete), now ms, task
// key prefix, task ttl ms, resource, sequence ttl ms, lease-until ms.
// Waiting records are found by prefix, as the claim script finds task records (the same slot).
// Returns {0}: not the head; {1}: the queue is empty now; {2, {task id, {field, value, ...}}}:
// the next event, now the head, claimed for the caller until the lease: it is delivered at once
// on the caller's shard, and should the caller die, the claim script finds the lease run out
// and makes it due for any instance (as every claimed retry).
const redis::script& release_script() {
  static const redis::script s(R"lua(
if ARGV[2] ~= '' then
  redis.call('DEL', KEYS[7])
  redis.call('ZREM', KEYS[5], ARGV[2])
  redis.call('ZREM', KEYS[6], ARGV[2])
  redis.call('SREM', KEYS[8], ARGV[2])
end
if redis.call('HGET', KEYS[1], 'head') ~= ARGV[1] then return {0} end
while true do
  local id = redis.call('LPOP', KEYS[2])
  if not id then
    redis.call('HDEL', KEYS[1], 'head', 'head_seq')
    redis.call('ZREM', KEYS[4], ARGV[6])
    return {1}
  end
  redis.call('HINCRBY', KEYS[3], 'waiting', -1)
  local record = ARGV[4] .. id
  local next = redis.call('HMGET', record, 'event_id', 'sequence')
  if next[1] then
    redis.call('HSET', KEYS[1], 'head', next[1], 'head_seq', next[2])
    redis.call('PEXPIRE', KEYS[1], ARGV[7])
    redis.call('PEXPIRE', record, ARGV[5])
    redis.call('ZADD', KEYS[6], ARGV[8], id)
    redis.call('SADD', KEYS[8], id)
    local front = redis.call('LINDEX', KEYS[2], 0)
    if front then
      local at = redis.call('HGET', ARGV[4] .. front, 'queued_at') or ARGV[3]
      redis.call('ZADD', KEYS[4], at, ARGV[6])
    else
      redis.call('ZREM', KEYS[4], ARGV[6])
    end
    return {2, {id, redis.call('HGETALL', record)}}
  end
end
)lua");
  return s;
}

// KEYS: the endpoint's resource index, backlog hash, oldest zset, retry due, retry claimed, its
// retry task index.
// ARGV: the endpoint's key prefix (keys::ordered_tag), task key prefix, budget.
// Removes up to `budget` waiting events and emptied resources; returns the resources left.
// Keys are found from the index, as the release script finds waiting records.
const redis::script& purge_script() {
  static const redis::script s(R"lua(
local budget = tonumber(ARGV[3])
while budget > 0 do
  local r = redis.call('SRANDMEMBER', KEYS[1])
  if not r then break end
  local w = ARGV[1] .. 'w:' .. r
  local ids = redis.call('LPOP', w, budget)
  if ids then
    for _, id in ipairs(ids) do
      redis.call('DEL', ARGV[2] .. id)
      redis.call('ZREM', KEYS[4], id)
      redis.call('ZREM', KEYS[5], id)
      redis.call('SREM', KEYS[6], id)
    end
    budget = budget - #ids
  end
  if redis.call('EXISTS', w) == 0 then
    redis.call('DEL', ARGV[1] .. 'r:' .. r)
    redis.call('SREM', KEYS[1], r)
    budget = budget - 1
  end
end
local left = redis.call('SCARD', KEYS[1])
if left == 0 then redis.call('DEL', KEYS[2], KEYS[3]) end
return left
)lua");
  return s;
}

redis::request place_call(const retry::task& t, std::size_t shards, clock::time_point now,
                          std::chrono::milliseconds task_ttl, const char* mode) {
  // The record as the retry store writes it (its own id, due and ttl first: dropped here).
  std::vector<std::string> record = retry::store::task_args(t, now, task_ttl);
  std::vector<std::string> args{t.event_id,
                                std::move(record[0]),
                                std::to_string(unix_ms(now)),
                                std::to_string(task_ttl.count()),
                                std::to_string(sequence_ttl.count()),
                                t.resource,
                                mode};
  args.insert(args.end(), std::make_move_iterator(record.begin() + 3),
              std::make_move_iterator(record.end()));
  const std::string& ep = t.endpoint_id;
  const std::size_t n = keys::retry_shard(ep, shards);
  return {&place_script(),
          {keys::ordered_sequence(n, ep, t.resource), keys::ordered_waiting(n, ep, t.resource),
           keys::ordered_event(n, ep, t.event_id), keys::ordered_backlog(n, ep),
           keys::ordered_oldest(n, ep), keys::retry_task(n, args[1]), keys::retry_due(n),
           keys::ordered_resources(n, ep), keys::retry_endpoint_tasks(n, ep)},
          std::move(args),
          {}};
}

}  // namespace

std::string resource_of(std::string_view event_body) {
  std::string out = data_string(event_body, "id");
  // It becomes part of key names: the event-id alphabet only.
  return events::is_valid_id(out) ? out : std::string();
}

redis::request enter_call(const retry::task& t, std::size_t shards, clock::time_point now,
                          std::chrono::milliseconds task_ttl) {
  return place_call(t, shards, now, task_ttl, "enter");
}

redis::request requeue_call(const retry::task& t, std::size_t shards, clock::time_point now,
                            std::chrono::milliseconds task_ttl) {
  return place_call(t, shards, now, task_ttl, "requeue");
}

redis::request release_call(const retry::task& t, std::size_t shards, bool complete_task,
                            clock::time_point now, std::chrono::milliseconds task_ttl,
                            std::chrono::milliseconds lease) {
  const std::string& ep = t.endpoint_id;
  const std::size_t n = keys::retry_shard(ep, shards);
  std::string id = t.id();
  return {&release_script(),
          {keys::ordered_sequence(n, ep, t.resource), keys::ordered_waiting(n, ep, t.resource),
           keys::ordered_backlog(n, ep), keys::ordered_oldest(n, ep), keys::retry_due(n),
           keys::retry_claimed(n), keys::retry_task(n, id), keys::retry_endpoint_tasks(n, ep)},
          {t.event_id, complete_task ? std::move(id) : std::string(), std::to_string(unix_ms(now)),
           keys::retry_task_prefix(n), std::to_string(task_ttl.count()), t.resource,
           std::to_string(sequence_ttl.count()), std::to_string(unix_ms(now + lease))},
          {}};
}

result<place> place_from_reply(const redis::reply& r) {
  if (r.elements.size() != 2 || r.elements[0].type != redis::reply::kind::integer ||
      r.elements[1].type != redis::reply::kind::integer) {
    return fail(error_kind::transient, "redis: unexpected reply to the ordered-queue script");
  }
  static constexpr state by_code[] = {state::waiting, state::head, state::known, state::pending,
                                      state::due};
  const auto code = r.elements[1].integer;
  if (code < 0 || code > 4) {
    return fail(error_kind::transient, "redis: unexpected state from the ordered-queue script");
  }
  return place{static_cast<std::uint64_t>(r.elements[0].integer), by_code[code]};
}

redis::request purge_call(std::string_view endpoint_id, std::size_t shards, std::size_t budget) {
  const std::size_t n = keys::retry_shard(endpoint_id, shards);
  return {&purge_script(),
          {keys::ordered_resources(n, endpoint_id), keys::ordered_backlog(n, endpoint_id),
           keys::ordered_oldest(n, endpoint_id), keys::retry_due(n), keys::retry_claimed(n),
           keys::retry_endpoint_tasks(n, endpoint_id)},
          {keys::ordered_tag(n, endpoint_id), keys::retry_task_prefix(n),
           std::to_string(std::max<std::size_t>(1, budget))},
          {}};
}

result<released> released_from_reply(const redis::reply& r) {
  if (r.elements.empty() || r.elements[0].type != redis::reply::kind::integer) {
    return fail(error_kind::transient, "redis: unexpected reply to the ordered release script");
  }
  released out;
  out.was_head = r.elements[0].integer != 0;
  if (r.elements[0].integer == 2 && r.elements.size() == 2) {
    auto next = retry::store::tasks_from_reply(r.elements[1]);
    if (next.size() == 1) out.next = std::move(next.front());
  }
  return out;
}

redis::operation<bool> requeue_op(const retry::task& t, std::size_t shards, clock::time_point now,
                                  std::chrono::milliseconds task_ttl) {
  using op = redis::operation<bool>;
  return op::one(requeue_call(t, shards, now, task_ttl),
                 [](op&, redis::replies r) -> std::optional<result<bool>> {
                   auto got = redis::single_reply(std::move(r));
                   if (!got) return std::unexpected(got.error());
                   auto p = place_from_reply(*got);
                   if (!p) return std::unexpected(p.error());
                   return p->where != state::pending;
                 });
}

redis::request backlog_commands(std::string_view endpoint_id, std::size_t shards) {
  const std::size_t n = keys::retry_shard(endpoint_id, shards);
  redis::request r;
  r.commands.add({"HGET", keys::ordered_backlog(n, endpoint_id), "waiting"})
      .add({"ZRANGE", keys::ordered_oldest(n, endpoint_id), "0", "0", "WITHSCORES"});
  return r;
}

result<backlog> backlog_from_replies(const std::vector<redis::reply>& r) {
  if (auto e = redis::first_error(r); !e) return std::unexpected(e.error());
  if (r.size() != 2) return fail(error_kind::transient, "redis: unexpected backlog replies");
  backlog out;
  if (!r[0].is_nil()) out.waiting = std::max<std::int64_t>(0, std::atoll(r[0].str.c_str()));
  if (r[1].elements.size() == 2) {
    out.oldest_queued_at = clock::time_point(std::chrono::duration_cast<clock::duration>(
        std::chrono::milliseconds(std::atoll(r[1].elements[1].str.c_str()))));
  }
  return out;
}

redis::operation<backlog> backlog_op(std::string_view endpoint_id, std::size_t shards) {
  return total_backlog_op({std::string(endpoint_id)}, shards);
}

redis::operation<backlog> total_backlog_op(const std::vector<std::string>& endpoint_ids,
                                           std::size_t shards) {
  using op = redis::operation<backlog>;
  if (endpoint_ids.empty()) return op::done(backlog{});
  redis::request r;
  for (const auto& id : endpoint_ids) r.commands.append(backlog_commands(id, shards).commands);
  return op::one(std::move(r), [](op&, redis::replies got) -> std::optional<result<backlog>> {
    if (!got) return std::unexpected(got.error());
    backlog total;
    constexpr std::size_t per_endpoint = 2;  // backlog_commands' two
    for (std::size_t i = 0; i + per_endpoint <= got->size(); i += per_endpoint) {
      auto one = backlog_from_replies({(*got)[i], (*got)[i + 1]});
      if (!one) return std::unexpected(one.error());
      total.waiting += one->waiting;
      if (one->oldest_queued_at &&
          (!total.oldest_queued_at || *one->oldest_queued_at < *total.oldest_queued_at)) {
        total.oldest_queued_at = one->oldest_queued_at;
      }
    }
    return total;
  });
}

}  // namespace ordered

namespace {

// A script's one reply, as `parse` reads it.
template <class T>
result<T> script_reply(const std::vector<redis::reply>& got,
                       result<T> (*parse)(const redis::reply&)) {
  if (got.empty()) return fail(error_kind::transient, "redis: no reply to an ordered-queue script");
  return parse(got.front());
}

}  // namespace

boost::asio::awaitable<std::optional<ordered::place>> ordered_queue::enter(const retry::task& t) {
  std::string key = t.endpoint_id;
  key.push_back(' ');
  key.append(t.resource);
  // Present: another enter of this resource is under way; wait for it to hand over.
  auto [it, first] = gates_.try_emplace(key);
  if (!first) {
    const auto ex = co_await boost::asio::this_coro::executor;
    auto turn = std::make_shared<boost::asio::steady_timer>(
        ex, boost::asio::steady_timer::time_point::max());
    it->second.waiting.push_back(turn);
    co_await turn->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
  const redis::request call = ordered::enter_call(t, shards_, ordered::clock::now(), task_ttl_);
  auto got = co_await writer_.write(call, "ordered intake");
  // Hand over to the next enter of this resource, or close the gate (references into an
  // unordered_map stay valid while other keys come and go).
  gate& g = gates_.at(key);
  if (g.waiting.empty()) {
    gates_.erase(key);
  } else {
    g.waiting.front()->cancel();
    g.waiting.pop_front();
  }
  if (!got) co_return std::nullopt;
  auto p = script_reply(*got, ordered::place_from_reply);
  if (p) co_return *p;
  // Not the script's reply (never expected): attempted, unnumbered, rather than lost.
  log::error("ordered intake: unexpected reply; delivering without order",
             {{"event", t.event_id}, {"endpoint", t.endpoint_id}, {"error", p.error().message}});
  co_return ordered::place{0, ordered::state::head};
}

boost::asio::awaitable<std::optional<ordered::released>> ordered_queue::release(
    const retry::task& t, bool complete_task) {
  const redis::request call =
      ordered::release_call(t, shards_, complete_task, ordered::clock::now(), task_ttl_, lease_);
  auto got = co_await writer_.write(call, "ordered release");
  if (!got) co_return std::nullopt;
  auto r = script_reply(*got, ordered::released_from_reply);
  if (r) co_return *r;
  // Ran, but not the script's reply (never expected): a next event it claimed comes back
  // through the retry schedule once its lease runs out.
  log::error("ordered release: unexpected reply",
             {{"event", t.event_id}, {"endpoint", t.endpoint_id}, {"error", r.error().message}});
  co_return ordered::released{};
}

}  // namespace tresse::dispatcher
