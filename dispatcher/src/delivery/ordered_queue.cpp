#include "delivery/ordered_queue.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "delivery/intake.hpp"
#include "delivery/redis_writer.hpp"
#include "redis/keys.hpp"
#include "tresse/common/event.hpp"
#include "tresse/common/ids.hpp"
#include "tresse/common/log.hpp"

namespace tresse::dispatcher {
namespace ordered {
namespace {

namespace keys = redis::keys;

std::int64_t unix_ms(clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// Lua shared by the scripts that read the body of a record of the layout before bodies went into
// the records (2026-12-02): the event's body key (keys::ordered_body) lives at least `ttl` ms
// and a minute from now, so that it outlived the record given `ttl` in the same call (a key
// without a TTL is left so).
constexpr std::string_view keep_body_lua = R"lua(
local body_margin = 60000
local function keep_body(key, ttl)
  ttl = tonumber(ttl) + body_margin
  local left = redis.call('PTTL', key)
  if left >= 0 and left < ttl then redis.call('PEXPIRE', key, ttl) end
end
)lua";

// Places a batch of one endpoint's events, in order (intake: each resource's in Kafka order).
// KEYS: backlog hash, oldest zset, retry due, the endpoint's resource index, its retry task
// index; then per event its resource's sequence hash and waiting list, its event key and task
// hash (all under the endpoint's retry shard's tag).
// ARGV: now ms, task ttl ms, sequence ttl ms, mode ("enter" or "requeue"), m and the m field names
// of a task record (without the body, which comes apart: a head's is not written); then per
// event: event id, task id, resource, body and its record's m values, in the names' order (the
// names once a call, not once an event: each argument costs Redis its parse and a Lua string).
// A record written here holds the body (so that a release hands it out with the record, and
// nothing else has to live as long); the head's body is in the caller's memory and the attempt
// log's, and enter writes none for it.
// Each resource's numbering and head are read once and written once per call, its waiting ids
// pushed at once, the endpoint's counters once: per event, only its own keys are touched.
// Returns {sequence, state, ...} per event: state 1 head (attempt now), 0 waiting, 2 known,
// 3 pending, 4 due.
const redis::script& place_script() {
  static const redis::script s(R"lua(
local now, task_ttl, seq_ttl, mode = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local out, queues, order = {}, {}, {}
local fields = tonumber(ARGV[5])
-- The record's field/value pairs, its values from ARGV[first] on: one table for the call, the
-- names set once (HSET takes it unpacked at once).
local kv = {}
for i = 1, fields do kv[2 * i - 1] = ARGV[5 + i] end
local function record(first)
  for i = 1, fields do kv[2 * i] = ARGV[first + i - 1] end
  return kv
end
-- A task on the retry schedule, due now, for whichever instance claims it.
local function make_due(k, task_id, n, resource, body, first)
  redis.call('HSET', KEYS[k + 3], 'sequence', n, 'resource', resource, 'body', body,
             unpack(record(first)))
  redis.call('PEXPIRE', KEYS[k + 3], task_ttl)
  redis.call('ZADD', KEYS[3], now, task_id)
  redis.call('SADD', KEYS[5], task_id)
end
local a = 6 + fields
for k = 6, #KEYS, 4 do
  local event_id, task_id, resource, body = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local first = a + 4
  a = first + fields
  local q = queues[resource]
  if not q then
    local h = redis.call('HMGET', KEYS[k], 'head', 'last')
    q = {key = KEYS[k], list = KEYS[k + 1], head = h[1], last = tonumber(h[2]) or 0, waiting = {}}
    queues[resource] = q
    order[#order + 1] = resource
  end
  local task_key = KEYS[k + 3]
  -- An enter numbers a new event in the same call that finds a known one (SET NX GET: nil when
  -- it was set); a requeue numbers only what is not pending.
  local known
  if mode == 'enter' then
    known = redis.call('SET', KEYS[k + 2], q.last + 1, 'PX', seq_ttl, 'NX', 'GET')
  else
    known = redis.call('GET', KEYS[k + 2])
  end
  local n, state = tonumber(known), 2
  if mode == 'enter' and known then
    if q.head == event_id and redis.call('EXISTS', task_key) == 0 then
      -- Redelivered by Kafka while still the head, with no retry task: its instance died
      -- before handing it off.
      make_due(k, task_id, known, resource, body, first)
    end
  elseif mode ~= 'enter' and (q.head == event_id or redis.call('EXISTS', task_key) == 1) then
    n, state = n or 0, 3
  else
    q.last = q.last + 1
    n = q.last
    q.numbered = true
    if mode ~= 'enter' then redis.call('SET', KEYS[k + 2], n, 'PX', seq_ttl) end
    if not q.head then
      q.head, q.head_seq, state = event_id, n, 1
      if mode ~= 'enter' then
        make_due(k, task_id, n, resource, body, first)
        state = 4
      end
    else
      -- Waiting: its record lives as long as the list that holds it (the task TTL could run
      -- out while heads ahead of it take their whole schedules); released, it gets the task TTL.
      redis.call('HSET', task_key, 'sequence', n, 'resource', resource, 'queued_at', now,
                 'body', body, unpack(record(first)))
      redis.call('PEXPIRE', task_key, seq_ttl)
      q.waiting[#q.waiting + 1] = task_id
      state = 0
    end
  end
  out[#out + 1] = n
  out[#out + 1] = state
end
local added, numbered = 0, {}
for _, resource in ipairs(order) do
  local q = queues[resource]
  if q.head_seq then
    redis.call('HSET', q.key, 'last', q.last, 'head', q.head, 'head_seq', q.head_seq)
  elseif q.numbered then
    redis.call('HSET', q.key, 'last', q.last)
  end
  if q.numbered then
    redis.call('PEXPIRE', q.key, seq_ttl)
    numbered[#numbered + 1] = resource
  end
  if #q.waiting > 0 then
    -- A list that was empty had no oldest-wait score (the release that emptied it removed it).
    if redis.call('RPUSH', q.list, unpack(q.waiting)) == #q.waiting then
      redis.call('ZADD', KEYS[2], now, resource)
    end
    redis.call('PEXPIRE', q.list, seq_ttl)
    added = added + #q.waiting
  end
end
if #numbered > 0 then
  redis.call('SADD', KEYS[4], unpack(numbered))
  redis.call('PEXPIRE', KEYS[4], seq_ttl)
end
if added > 0 then redis.call('HINCRBY', KEYS[1], 'waiting', added) end
return out
)lua");
  return s;
}

// KEYS: sequence hash, waiting list, backlog hash, oldest zset, retry due, retry claimed, the
// settled task's hash, the endpoint's retry task index, the settled event's body key (a record
// of the older layout's), the shard's holders zset; then, once the caller knows them, the next
// waiting event's task hash and body key (the same), and the task hash of the one after it.
// ARGV: event id, settled task id ("": no task to complete), now ms, task ttl ms, resource,
// sequence ttl ms, the caller's holder id, the holder's lease-until ms ("": its lease is fresh,
// not rewritten), its holders member ("<endpoint id>/<holder>"), the next waiting task id and
// the one after it ("": none declared, or none after), "leased" when the settled task is a head
// a release handed out (retry::task::leased: nothing of the schedule to remove; "" otherwise);
// then, when the caller remembers the next event (its enter placed it: ordered_memory.hpp), "m",
// its number, its event id, the one after's queueing ms ("": the oldest-wait score stays: the
// caller knows it is within a second of it) and "1" when the resource's numbering already
// outlives the head's retries (its TTL, from next's enter, is left).
// Every key it touches is in KEYS: on a Redis Cluster, while a slot migrates key by key, a
// script reading keys built from ARGV may run where they are not (Redis 7 then fails it after
// its first writes: a popped waiting event was lost). So the waiting events it will read are
// named by the caller: when the front of the waiting list is not what ARGV says, it returns
// {3, next id, id after ("": none)} and the caller calls again with those keys (the settling
// part above is idempotent). A waiting event whose record is gone (never expected: it lives
// as long as its list) is popped and skipped, and the caller is asked again for the next; a
// remembered next is skipped so too (its record's PEXPIRE finds none), so every instance does
// the same with it. Otherwise a remembered next is neither read nor returned (the caller
// checked its number: see ordered_queue::release).
// Completing the settled task deletes its record and the body key of the older layout (a
// duplicate hand-off of a head also deletes a requeued copy's record: the same task id), and
// takes it off the schedule; a leased one is on none (its holder may have lapsed meanwhile and
// a walk made it due: that due id, its record gone, is dropped by the claim that finds it,
// drop_missing).
// The next event, now the head, is leased to the caller: the resource's hash names its holder,
// and the shard's holders zset says until when that holder holds all it was released on this
// endpoint (renewed with a release every lease/4: one member per instance and endpoint, where a
// claim per head was a ZADD and a ZREM of a zset as large as the heads out, and walked it:
// 13 % of Redis's work an ordered event). It is on no schedule and in no index: delivered at
// once on the caller's shard. Should the caller die, its holder lapses and a walk of the
// endpoint's resources (recover_op) makes its heads due for any instance.
// Returns {0}: not the head; {1}: the queue is empty now; {2, {task id, {field, value, ...}},
// body}: the next event, now the head, leased to the caller. The body is nil when the record
// holds it, and when it is gone (a record of the older layout whose body key is gone: see
// shard::retry_delivery). {2, task id}: the same, for the remembered next. {3, id, id}: call
// again naming these.
const redis::script& release_script() {
  static const redis::script s(std::string(keep_body_lua) + R"lua(
if ARGV[8] ~= '' then redis.call('ZADD', KEYS[10], ARGV[8], ARGV[9]) end
if ARGV[2] ~= '' then
  redis.call('DEL', KEYS[7], KEYS[9])
  if ARGV[12] ~= 'leased' then
    redis.call('ZREM', KEYS[6], ARGV[2])
    redis.call('ZREM', KEYS[5], ARGV[2])
    redis.call('SREM', KEYS[8], ARGV[2])
  end
end
if redis.call('HGET', KEYS[1], 'head') ~= ARGV[1] then return {0} end
-- The front of the waiting list, or the end of the queue: {1} or {3, ...}.
local function front(ids)
  if #ids == 0 then
    redis.call('HDEL', KEYS[1], 'head', 'head_seq', 'holder')
    redis.call('ZREM', KEYS[4], ARGV[5])
    return {1}
  end
  return {3, ids[1], ids[2] or ''}
end
local ids = redis.call('LRANGE', KEYS[2], 0, 1)
if #ids == 0 or #KEYS < 13 or ids[1] ~= ARGV[10] or (ids[2] or '') ~= ARGV[11] then
  return front(ids)
end
local remembered = ARGV[13] == 'm'
local event_id, sequence, fields
local has_body = false
local id = redis.call('LPOP', KEYS[2])
redis.call('HINCRBY', KEYS[3], 'waiting', -1)
if remembered then
  sequence, event_id = ARGV[14], ARGV[15]
else
  fields = redis.call('HGETALL', KEYS[11])
  for i = 1, #fields, 2 do
    if fields[i] == 'event_id' then event_id = fields[i + 1] end
    if fields[i] == 'sequence' then sequence = fields[i + 1] end
    if fields[i] == 'body' then has_body = true end
  end
end
-- Handed out: the task TTL, as every scheduled task.
if not (event_id and sequence) or redis.call('PEXPIRE', KEYS[11], ARGV[4]) == 0 then
  return front(redis.call('LRANGE', KEYS[2], 0, 1))
end
local fresh = remembered and ARGV[17] == '1'
redis.call('HSET', KEYS[1], 'head', event_id, 'head_seq', sequence, 'holder', ARGV[7])
if not fresh then redis.call('PEXPIRE', KEYS[1], ARGV[6]) end
if not ids[2] then
  redis.call('ZREM', KEYS[4], ARGV[5])
elseif not remembered then
  redis.call('ZADD', KEYS[4], redis.call('HGET', KEYS[13], 'queued_at') or ARGV[3], ARGV[5])
elseif ARGV[16] ~= '' then
  redis.call('ZADD', KEYS[4], ARGV[16], ARGV[5])
end
if remembered then return {2, id} end
-- A record of the older layout keeps its body apart: handed out with the record's TTL and the
-- margin.
local body = nil
if not has_body then body = redis.call('GETEX', KEYS[12], 'PX', tonumber(ARGV[4]) + body_margin) end
return {2, {id, fields}, body}
)lua");
  return s;
}

// KEYS: the resource's sequence hash, its waiting list, the next event's number key, the
// endpoint's resource index.
// ARGV: the settled head's event id, the next event's, sequence ttl ms, "1" to renew the
// sequence hash's TTL and the resource's place in the index (a chain can pass for longer than
// the TTL its front's enter gave them), the resource.
// The head (delivered: an entered or passed head, on no schedule, with no record) hands over to
// the next event of its resource, which its instance held in memory behind it, not entered
// (ordered_chains.hpp): numbered last + 1 and made the head, unleased (not handed off: should its
// instance die, Kafka redelivers it, and enter finds it the head without a task and makes it
// due, as for an entered head). Only when nothing waits in Redis (a requeue, another instance's
// enters) and the next was never numbered (entered elsewhere): otherwise nothing changes.
// Returns {0}: not the head; {1, n}: passed, n the next's number; {2}: not passed (release and
// enter instead).
const redis::script& pass_script() {
  static const redis::script s(R"lua(
local h = redis.call('HMGET', KEYS[1], 'head', 'last')
if h[1] ~= ARGV[1] then return {0} end
if redis.call('LLEN', KEYS[2]) > 0 then return {2} end
local n = (tonumber(h[2]) or 0) + 1
if not redis.call('SET', KEYS[3], n, 'PX', ARGV[3], 'NX') then return {2} end
redis.call('HSET', KEYS[1], 'head', ARGV[2], 'head_seq', n, 'last', n)
if ARGV[4] == '1' then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  redis.call('SADD', KEYS[4], ARGV[5])
  redis.call('PEXPIRE', KEYS[4], ARGV[3])
end
return {1, n}
)lua");
  return s;
}

// The walk of a lapsed holder (recover_op), in three scripts around a scan of the endpoint's
// resources. KEYS: the shard's holders zset. ARGV: now ms, the walk's own lease-until
// ("<ms>.5": no holder writes a fraction, so the last step knows its own mark).
// Takes the first holder whose lease ran out, for this walker until its mark: its member, or
// nil. A walker that dies lets it lapse again for the next one.
const redis::script& lapsed_holder_script() {
  static const redis::script s(R"lua(
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)
if #lapsed == 0 then return false end
redis.call('ZADD', KEYS[1], ARGV[2], lapsed[1])
return lapsed[1]
)lua");
  return s;
}

// KEYS: retry due, retry claimed, the endpoint's retry task index; then per head its resource's
// sequence hash and its task hash. ARGV: the lapsed holder, now ms, task ttl ms; then per head
// its event id and task id.
// A head still leased to the holder is no longer (HDEL holder) and, unless its record is gone or
// it went onto the schedule meanwhile (it failed and was rescheduled: due or claimed), due now
// for any instance. Returns how many it made due.
const redis::script& recover_heads_script() {
  static const redis::script s(R"lua(
local made = 0
-- KEYS and ARGV both name head i at 4 + 2i.
for k = 4, #KEYS, 2 do
  local event_id, task_id = ARGV[k], ARGV[k + 1]
  local h = redis.call('HMGET', KEYS[k], 'head', 'holder')
  if h[1] == event_id and h[2] == ARGV[1] then
    redis.call('HDEL', KEYS[k], 'holder')
    if redis.call('EXISTS', KEYS[k + 1]) == 1 and not redis.call('ZSCORE', KEYS[1], task_id)
        and not redis.call('ZSCORE', KEYS[2], task_id) then
      redis.call('ZADD', KEYS[1], ARGV[2], task_id)
      redis.call('SADD', KEYS[3], task_id)
      made = made + 1
    end
  end
end
if made > 0 then redis.call('PEXPIRE', KEYS[3], ARGV[3]) end
return made
)lua");
  return s;
}

// KEYS: the holders zset. ARGV: member, the walk's mark. The walk is over: the member goes
// unless its holder renewed it meanwhile (alive after all: its later heads are its own).
const redis::script& walked_holder_script() {
  static const redis::script s(R"lua(
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
)lua");
  return s;
}

// KEYS: the event's body key. ARGV: ttl ms. Returns the body (nil: gone), kept at least `ttl`.
const redis::script& body_script() {
  static const redis::script s(std::string(keep_body_lua) + R"lua(
keep_body(KEYS[1], ARGV[1])
return redis.call('GET', KEYS[1])
)lua");
  return s;
}

// KEYS: the endpoint's resource index, backlog hash, oldest zset, retry due, retry claimed, its
// retry task index.
// ARGV: the endpoint's key prefix (keys::ordered_tag), task key prefix, budget.
// Removes up to `budget` waiting events (their records and bodies) and emptied resources (and
// their head's body); returns the resources left. Keys are found from the index, as the
// release script finds waiting records. A task id is "<event id>:<endpoint id>".
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
      redis.call('DEL', ARGV[2] .. id, ARGV[1] .. 'b:' .. string.match(id, '^(.*):[^:]*$'))
      redis.call('ZREM', KEYS[4], id)
      redis.call('ZREM', KEYS[5], id)
      redis.call('SREM', KEYS[6], id)
    end
    budget = budget - #ids
  end
  if redis.call('EXISTS', w) == 0 then
    local head = redis.call('HGET', ARGV[1] .. 'r:' .. r, 'head')
    if head then redis.call('DEL', ARGV[1] .. 'b:' .. head) end
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

redis::request place_call(const std::vector<const retry::task*>& batch, std::size_t shards,
                          clock::time_point now, std::chrono::milliseconds task_ttl,
                          const char* mode) {
  static const std::string none;
  const std::string& ep = batch.empty() ? none : batch.front()->endpoint_id;
  const std::size_t n = keys::retry_shard(ep, shards);
  redis::request r{&place_script(),
                   {keys::ordered_backlog(n, ep), keys::ordered_oldest(n, ep), keys::retry_due(n),
                    keys::ordered_resources(n, ep), keys::retry_endpoint_tasks(n, ep)},
                   {std::to_string(unix_ms(now)), std::to_string(task_ttl.count()),
                    std::to_string(sequence_ttl.count()), mode, ""},
                   {}};
  // The record as the retry store writes it (its own id, due and ttl first: dropped here), but
  // without what the script writes itself (the body, only into a waiting or due record; the
  // number and resource). Every task's record has the same names, in the same order.
  auto written = [](std::string_view name) {
    return name != "body" && name != "sequence" && name != "resource";
  };
  constexpr std::size_t record_at = 3, keys_per_event = 4, args_per_event = 4;
  const std::size_t names_at = r.args.size();  // after their count, "" until known
  for (std::size_t e = 0; e < batch.size(); ++e) {
    const retry::task* t = batch[e];
    std::vector<std::string> record = retry::store::task_args(*t, now, task_ttl);
    if (e == 0) {
      for (std::size_t i = record_at; i + 1 < record.size(); i += 2) {
        if (written(record[i])) r.args.push_back(record[i]);
      }
      const std::size_t fields = r.args.size() - names_at;
      r.args[names_at - 1] = std::to_string(fields);
      r.keys.reserve(r.keys.size() + keys_per_event * batch.size());
      r.args.reserve(r.args.size() + (args_per_event + fields) * batch.size());
    }
    r.keys.insert(r.keys.end(), {keys::ordered_sequence(n, ep, t->resource),
                                 keys::ordered_waiting(n, ep, t->resource),
                                 keys::ordered_event(n, ep, t->event_id),
                                 keys::retry_task(n, record[0])});
    r.args.insert(r.args.end(), {t->event_id, std::move(record[0]), t->resource, t->body});
    for (std::size_t i = record_at; i + 1 < record.size(); i += 2) {
      if (written(record[i])) r.args.push_back(std::move(record[i + 1]));
    }
  }
  return r;
}

// A holders-zset member: the endpoint and the holder (recover_op splits it at the '/').
std::string holder_member(std::string_view endpoint_id, std::string_view holder) {
  return keys::join(endpoint_id, "/", holder);
}

}  // namespace

std::string resource_of(std::string_view event_body) {
  std::string out = data_string(event_body, "id");
  // It becomes part of key names: the event-id alphabet only.
  return events::is_valid_id(out) ? out : std::string();
}

redis::request enter_call(const retry::task& t, std::size_t shards, clock::time_point now,
                          std::chrono::milliseconds task_ttl) {
  return place_call({&t}, shards, now, task_ttl, "enter");
}

redis::request enter_batch_call(const std::vector<const retry::task*>& batch, std::size_t shards,
                                clock::time_point now, std::chrono::milliseconds task_ttl) {
  return place_call(batch, shards, now, task_ttl, "enter");
}

redis::request requeue_call(const retry::task& t, std::size_t shards, clock::time_point now,
                            std::chrono::milliseconds task_ttl) {
  return place_call({&t}, shards, now, task_ttl, "requeue");
}

redis::request release_call(const retry::task& t, std::size_t shards, bool complete_task,
                            clock::time_point now, std::chrono::milliseconds task_ttl,
                            std::chrono::milliseconds lease, const lease_holder& holder,
                            std::string_view next, std::string_view after,
                            const hint* remembered) {
  const std::string& ep = t.endpoint_id;
  const std::size_t n = keys::retry_shard(ep, shards);
  std::string id = t.id();
  redis::request r{
      &release_script(),
      {keys::ordered_sequence(n, ep, t.resource), keys::ordered_waiting(n, ep, t.resource),
       keys::ordered_backlog(n, ep), keys::ordered_oldest(n, ep), keys::retry_due(n),
       keys::retry_claimed(n), keys::retry_task(n, id), keys::retry_endpoint_tasks(n, ep),
       keys::ordered_body(n, ep, t.event_id), keys::ordered_holders(n)},
      {t.event_id, complete_task ? std::move(id) : std::string(), std::to_string(unix_ms(now)),
       std::to_string(task_ttl.count()), t.resource, std::to_string(sequence_ttl.count()),
       holder.id, holder.renew ? std::to_string(unix_ms(now + lease)) : std::string(),
       holder.renew ? holder_member(ep, holder.id) : std::string(), std::string(next),
       std::string(after), complete_task && t.leased ? "leased" : ""},
      {}};
  if (!next.empty()) {
    // A waiting task id is "<event id>:<endpoint id>" (retry::task_id).
    const std::string_view next_event = next.substr(0, next.rfind(':'));
    r.keys.push_back(keys::retry_task(n, next));
    r.keys.push_back(keys::ordered_body(n, ep, next_event));
    // Only read when there is one after: any key of the slot otherwise (the record again).
    r.keys.push_back(keys::retry_task(n, after.empty() ? next : after));
    if (remembered != nullptr) {
      r.args.insert(r.args.end(),
                    {"m", std::to_string(remembered->sequence), remembered->event_id,
                     remembered->after_queued_at_ms == 0
                         ? std::string()
                         : std::to_string(remembered->after_queued_at_ms),
                     remembered->keeps_ttls ? "1" : "0"});
    }
  }
  return r;
}

redis::request pass_call(std::string_view endpoint_id, std::string_view resource,
                         std::string_view head_event, std::string_view next_event,
                         std::size_t shards, bool renew_ttl) {
  const std::size_t n = keys::retry_shard(endpoint_id, shards);
  return {&pass_script(),
          {keys::ordered_sequence(n, endpoint_id, resource),
           keys::ordered_waiting(n, endpoint_id, resource),
           keys::ordered_event(n, endpoint_id, next_event),
           keys::ordered_resources(n, endpoint_id)},
          {std::string(head_event), std::string(next_event), std::to_string(sequence_ttl.count()),
           renew_ttl ? "1" : "0", std::string(resource)},
          {}};
}

result<passed> passed_from_reply(const redis::reply& r) {
  const auto& e = r.elements;
  const bool shaped = !e.empty() && e[0].type == redis::reply::kind::integer &&
                      e[0].integer >= 0 && e[0].integer <= 2 &&
                      (e[0].integer != 1 ||
                       (e.size() == 2 && e[1].type == redis::reply::kind::integer && e[1].integer > 0));
  if (!shaped) return fail(error_kind::transient, "redis: unexpected reply to the ordered pass script");
  static constexpr pass_result by_code[] = {pass_result::not_head, pass_result::passed,
                                            pass_result::taken};
  passed out{by_code[e[0].integer], 0};
  if (out.result == pass_result::passed) out.sequence = static_cast<std::uint64_t>(e[1].integer);
  return out;
}

redis::request body_call(const retry::task& t, std::size_t shards,
                         std::chrono::milliseconds ttl) {
  const std::size_t n = keys::retry_shard(t.endpoint_id, shards);
  return {&body_script(),
          {keys::ordered_body(n, t.endpoint_id, t.event_id)},
          {std::to_string(ttl.count())},
          {}};
}

result<std::vector<place>> places_from_reply(const redis::reply& r, std::size_t count) {
  if (r.elements.size() != 2 * count) {
    return fail(error_kind::transient, "redis: unexpected reply to the ordered-queue script");
  }
  static constexpr state by_code[] = {state::waiting, state::head, state::known, state::pending,
                                      state::due};
  std::vector<place> out;
  out.reserve(count);
  for (std::size_t i = 0; i < r.elements.size(); i += 2) {
    const auto& n = r.elements[i];
    const auto& code = r.elements[i + 1];
    if (n.type != redis::reply::kind::integer || code.type != redis::reply::kind::integer ||
        code.integer < 0 || code.integer > 4) {
      return fail(error_kind::transient, "redis: unexpected state from the ordered-queue script");
    }
    out.push_back({static_cast<std::uint64_t>(n.integer), by_code[code.integer]});
  }
  return out;
}

result<place> place_from_reply(const redis::reply& r) {
  auto one = places_from_reply(r, 1);
  if (!one) return std::unexpected(one.error());
  return one->front();
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
  if (r.elements[0].integer == 3) {
    if (r.elements.size() != 3 || r.elements[1].str.empty()) {
      return fail(error_kind::transient, "redis: unexpected reply to the ordered release script");
    }
    out.ask = std::make_pair(r.elements[1].str, r.elements[2].str);
    return out;
  }
  if (r.elements[0].integer == 2 && r.elements.size() == 2 &&
      r.elements[1].type == redis::reply::kind::string) {
    out.remembered = true;  // the caller's hint, released: the caller has its task
    return out;
  }
  if (r.elements[0].integer == 2 && r.elements.size() >= 2) {
    auto next = retry::store::tasks_from_reply(r.elements[1]);
    if (next.size() == 1) {
      out.next = std::move(next.front());
      out.next->leased = true;
    }
    if (out.next && r.elements.size() == 3 && !r.elements[2].is_nil()) {
      out.next->body = r.elements[2].str;
    }
  }
  return out;
}

redis::operation<released> release_op(const retry::task& t, std::size_t shards,
                                      bool complete_task, clock::time_point now,
                                      std::chrono::milliseconds task_ttl,
                                      std::chrono::milliseconds lease, const lease_holder& holder,
                                      const std::optional<hint>& remembered) {
  using op = redis::operation<released>;
  redis::request first =
      remembered ? release_call(t, shards, complete_task, now, task_ttl, lease, holder,
                                remembered->next, remembered->after, &*remembered)
                 : release_call(t, shards, complete_task, now, task_ttl, lease, holder);
  // What a second call needs of the head: not its body (a copy per release otherwise).
  retry::task head;
  head.event_id = t.event_id;
  head.endpoint_id = t.endpoint_id;
  head.resource = t.resource;
  head.leased = t.leased;
  return op::one(std::move(first),
                 [t = std::move(head), shards, complete_task, now, task_ttl, lease, holder](
                     op& o, redis::replies r) -> std::optional<result<released>> {
                   auto got = redis::single_reply(std::move(r));
                   if (!got) return std::unexpected(got.error());
                   auto rel = released_from_reply(*got);
                   if (!rel || !rel->ask) return rel;
                   // The waiting events it will read, named: the same call with their keys
                   // (and no hint: a rejected one is stale).
                   o.next = release_call(t, shards, complete_task, now, task_ttl, lease, holder,
                                         rel->ask->first, rel->ask->second);
                   return std::nullopt;
                 });
}

redis::request recover_heads_call(std::size_t shard, std::string_view endpoint_id,
                                  std::string_view holder, const std::vector<held_head>& heads,
                                  clock::time_point now, std::chrono::milliseconds task_ttl) {
  redis::request r{&recover_heads_script(),
                   {keys::retry_due(shard), keys::retry_claimed(shard),
                    keys::retry_endpoint_tasks(shard, endpoint_id)},
                   {std::string(holder), std::to_string(unix_ms(now)),
                    std::to_string(task_ttl.count())},
                   {}};
  for (const auto& h : heads) {
    std::string task = retry::task_id(h.event_id, endpoint_id);
    r.keys.push_back(keys::ordered_sequence(shard, endpoint_id, h.resource));
    r.keys.push_back(keys::retry_task(shard, task));
    r.args.push_back(h.event_id);
    r.args.push_back(std::move(task));
  }
  return r;
}

redis::operation<recovered> recover_op(std::size_t shard, clock::time_point now,
                                       std::chrono::milliseconds lease,
                                       std::chrono::milliseconds task_ttl, std::size_t batch) {
  using op = redis::operation<recovered>;
  // The walk's state between its round trips.
  struct walk {
    std::string member, endpoint, holder, mark, cursor = "0";
    std::vector<std::string> resources;  // of the last scan batch
    bool scanned = false;                // the cursor came back to 0
    recovered out;
  };
  auto w = std::make_shared<walk>();
  w->mark = std::to_string(unix_ms(now + lease)) + ".5";
  const std::string holders = keys::ordered_holders(shard);
  batch = std::max<std::size_t>(1, batch);
  auto scan = [w, shard, batch] {
    redis::request r;
    r.commands.add({"SSCAN", keys::ordered_resources(shard, w->endpoint), w->cursor, "COUNT",
                    std::to_string(batch)});
    return r;
  };
  auto done = [w, holders] {
    return redis::request{&walked_holder_script(), {holders}, {w->member, w->mark}, {}};
  };
  enum class phase { lapsed, scanned, read, recovered, done };
  auto at = std::make_shared<phase>(phase::lapsed);
  // A batch handled: the scan's next one, or the last step once it is over.
  auto after_batch = [w, at, scan, done](op& o) {
    o.next = w->scanned ? done() : scan();
    *at = w->scanned ? phase::done : phase::scanned;
  };
  return op::one(
      {&lapsed_holder_script(), {holders}, {std::to_string(unix_ms(now)), w->mark}, {}},
      [w, at, shard, now, task_ttl, scan, done, after_batch](
          op& o, redis::replies r) -> std::optional<result<recovered>> {
        if (!r) return std::unexpected(r.error());
        if (auto e = redis::first_error(*r); !e) return std::unexpected(e.error());
        const auto bad = [] {
          return fail(error_kind::transient, "redis: unexpected reply to the ordered-head walk");
        };
        switch (*at) {
          case phase::lapsed: {
            if (r->size() != 1) return bad();
            if (r->front().is_nil()) return w->out;  // no holder lapsed
            w->member = r->front().str;
            const auto slash = w->member.find('/');
            if (slash == std::string::npos) {
              // Not a member this version writes: dropped, as a walk of nothing would.
              o.next = done();
              *at = phase::done;
              return std::nullopt;
            }
            w->endpoint = w->member.substr(0, slash);
            w->holder = w->member.substr(slash + 1);
            w->out.walked = true;
            o.next = scan();
            *at = phase::scanned;
            return std::nullopt;
          }
          case phase::scanned: {
            if (r->size() != 1 || r->front().elements.size() != 2) return bad();
            w->cursor = r->front().elements[0].str;
            w->scanned = w->cursor == "0";
            w->resources.clear();
            for (auto& e : r->front().elements[1].elements) w->resources.push_back(std::move(e.str));
            if (w->resources.empty()) {
              after_batch(o);
              return std::nullopt;
            }
            redis::request read;
            for (const auto& res : w->resources) {
              read.commands.add(
                  {"HMGET", keys::ordered_sequence(shard, w->endpoint, res), "head", "holder"});
            }
            o.next = std::move(read);
            *at = phase::read;
            return std::nullopt;
          }
          case phase::read: {
            if (r->size() != w->resources.size()) return bad();
            std::vector<held_head> held;
            for (std::size_t i = 0; i < r->size(); ++i) {
              const auto& h = (*r)[i].elements;
              if (h.size() != 2 || h[0].is_nil() || h[1].str != w->holder) continue;
              held.push_back({w->resources[i], h[0].str});
            }
            if (held.empty()) {  // none leased to the lapsed holder
              after_batch(o);
            } else {
              o.next = recover_heads_call(shard, w->endpoint, w->holder, held, now, task_ttl);
              *at = phase::recovered;
            }
            return std::nullopt;
          }
          case phase::recovered:
            if (r->size() != 1 || r->front().type != redis::reply::kind::integer) return bad();
            w->out.heads += static_cast<std::size_t>(r->front().integer);
            after_batch(o);
            return std::nullopt;
          case phase::done:
            return w->out;
        }
        return bad();
      });
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

ordered_queue::ordered_queue(redis_writer& writer, std::size_t shards,
                             std::chrono::milliseconds task_ttl, std::chrono::milliseconds lease,
                             ordered_memory::limits memory)
    : writer_(writer),
      shards_(shards),
      task_ttl_(task_ttl),
      lease_(lease),
      memory_(memory),
      holder_(ids::random_base62(12)) {}

ordered_queue::ticket ordered_queue::queue_enter(const retry::task& t,
                                                 const boost::asio::any_io_executor& ex) {
  // Joins the endpoint's last batch not yet sent (a new one when it is full or there is none),
  // and the endpoint's flush if none runs: spawned, so it starts after the current handler, and
  // the rest of this intake batch joins too.
  const auto placed = intakes_.try_emplace(t.endpoint_id);
  auto& queued = placed.first->second;
  if (queued.empty() || queued.back()->tasks.size() >= max_batch) {
    queued.push_back(std::make_shared<batch>(ex));
  }
  ticket out;
  out.batch_ = queued.back();
  out.index_ = out.batch_->tasks.size();
  out.batch_->tasks.push_back(&t);
  if (placed.second) boost::asio::co_spawn(ex, flush(t.endpoint_id), boost::asio::detached);
  return out;
}

boost::asio::awaitable<std::optional<ordered::place>> ordered_queue::placed(ticket t) {
  while (!t.batch_->done) {
    co_await t.batch_->wake.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
  if (!*t.batch_->done) co_return std::nullopt;
  co_return t.batch_->places[t.index_];
}

boost::asio::awaitable<std::optional<ordered::place>> ordered_queue::enter(const retry::task& t) {
  const auto ex = co_await boost::asio::this_coro::executor;
  ticket queued = queue_enter(t, ex);
  co_return co_await placed(std::move(queued));
}

boost::asio::awaitable<void> ordered_queue::hand_back(const retry::task& head) {
  const redis::request call = ordered::recover_heads_call(
      redis::keys::retry_shard(head.endpoint_id, shards_), head.endpoint_id, holder_,
      {{head.resource, head.event_id}}, ordered::clock::now(), task_ttl_);
  (void)co_await writer_.write(call, "ordered hand-back");
}

boost::asio::awaitable<std::optional<ordered::passed>> ordered_queue::pass(
    std::string_view endpoint_id, std::string_view resource, std::string_view head_event,
    std::string_view next_event, bool renew_ttl) {
  const redis::request call =
      ordered::pass_call(endpoint_id, resource, head_event, next_event, shards_, renew_ttl);
  auto got = co_await writer_.write(call, "ordered pass");
  if (!got) co_return std::nullopt;
  result<ordered::passed> r =
      got->empty() ? fail(error_kind::transient, "redis: no reply to the ordered pass script")
                   : ordered::passed_from_reply(got->front());
  if (!r) {
    // Ran or not, never expected: the caller releases the usual way (a head it passed to is
    // released as the head, and the event entered finds its number).
    log::error("ordered pass: unexpected reply", {{"endpoint", endpoint_id},
                                                  {"error", r.error().message}});
    co_return ordered::passed{ordered::pass_result::taken, 0};
  }
  co_return *r;
}

boost::asio::awaitable<void> ordered_queue::flush(std::string endpoint_id) {
  // Declared outside the loop and assigned in it (g++ 12 and co_await: see context.hpp).
  std::shared_ptr<batch> b;
  redis::request call;
  std::optional<std::vector<redis::reply>> got;
  for (;;) {
    auto it = intakes_.find(endpoint_id);
    if (it->second.empty()) {
      intakes_.erase(it);  // the next enter starts a new flush
      co_return;
    }
    b = std::move(it->second.front());
    it->second.pop_front();
    const auto now = ordered::clock::now();
    call = ordered::enter_batch_call(b->tasks, shards_, now, task_ttl_);
    got = co_await writer_.write(call, "ordered intake");
    if (got) {
      result<std::vector<ordered::place>> places =
          got->empty() ? fail(error_kind::transient, "redis: no reply to the ordered intake")
                       : ordered::places_from_reply(got->front(), b->tasks.size());
      if (places) {
        b->places = std::move(*places);
        remember(b->tasks, b->places, ordered::unix_ms(now));
      } else {
        // Not the script's reply (never expected): attempted, unnumbered, rather than lost.
        log::error("ordered intake: unexpected reply; delivering without order",
                   {{"endpoint", endpoint_id}, {"events", b->tasks.size()},
                    {"error", places.error().message}});
        b->places.assign(b->tasks.size(), ordered::place{0, ordered::state::head});
      }
    }
    b->done = got.has_value();
    b->wake.cancel();
  }
}

void ordered_queue::remember(const std::vector<const retry::task*>& tasks,
                             const std::vector<ordered::place>& places, std::int64_t now_ms) {
  for (std::size_t i = 0; i < tasks.size() && i < places.size(); ++i) {
    if (places[i].where == ordered::state::head) memory_.headed(*tasks[i], places[i].sequence);
    if (places[i].where == ordered::state::waiting) {
      memory_.waiting(*tasks[i], places[i].sequence, now_ms);
    }
  }
}

boost::asio::awaitable<std::optional<ordered::released>> ordered_queue::release(
    const retry::task& t, bool complete_task) {
  // The next waiting event, when remembered: named in the first call.
  const auto now = ordered::clock::now();
  ordered_memory::entry_ptr next = memory_.front(t.endpoint_id, t.resource);
  // A remembered event numbered before this head is stale: it left the list elsewhere, and the
  // same id at the front now is a manual retry's copy with a new number (read from Redis). The
  // numbers only grow while the numbering lives, and it lives a sequence TTL past next's enter.
  if (next && (next->task.sequence <= t.sequence ||
               ordered::unix_ms(now) - next->queued_at_ms >= ordered::sequence_ttl.count())) {
    next = nullptr;
  }
  std::optional<ordered::hint> hint;
  if (next) {
    const ordered_memory::entry_ptr after = memory_.second(t.endpoint_id, t.resource);
    // The oldest-wait score (a gauge in seconds) stays while after's queueing is within a
    // second of it: a ZADD per step saved, the wait shown at most a second longer than it is.
    const std::int64_t score = memory_.score_ms(t.endpoint_id, t.resource);
    const bool score_holds =
        after && score > 0 && after->queued_at_ms - score < ordered::oldest_score_slack.count();
    hint = ordered::hint{next->task.id(),
                         after ? after->task.id() : std::string(),
                         next->task.event_id,
                         next->task.sequence,
                         after && !score_holds ? after->queued_at_ms : 0,
                         false};
    // Its enter gave the numbering and the body the sequence TTL: while that still outlives
    // the head's retries (a task TTL) by a day, the release need not extend them.
    const auto waited = std::chrono::milliseconds(ordered::unix_ms(now) - next->queued_at_ms);
    hint->keeps_ttls = waited + task_ttl_ + std::chrono::hours(24) < ordered::sequence_ttl;
  }
  // The holder's lease on the endpoint renewed every lease/4: a walk starts only once it ran
  // out, that is after a lease without a renewal, so the release after a walk always renews.
  const auto steady_now = std::chrono::steady_clock::now();
  const auto last = renewed_.find(t.endpoint_id);
  const ordered::lease_holder holder{
      holder_, last == renewed_.end() || steady_now - last->second >= lease_ / 4};
  auto op = ordered::release_op(t, shards_, complete_task, now, task_ttl_, lease_, holder, hint);
  // Each round trip durable (write); a second one only when a waiting event is next.
  std::optional<std::vector<redis::reply>> got;
  while (!op.outcome) {
    got = co_await writer_.write(op.next, "ordered release");
    if (!got) co_return std::nullopt;
    if (got->empty()) {
      op.outcome = fail(error_kind::transient, "redis: no reply to an ordered-queue script");
    } else {
      op.outcome = op.step(op, std::move(*got));
    }
  }
  auto r = std::move(*op.outcome);
  if (holder.renew) renewed_[t.endpoint_id] = steady_now;  // the script ran: renewed
  if (r) {
    if (r->remembered && next) {
      r->next = next->task;
      r->next->leased = true;
      memory_.released(t.endpoint_id, t.resource, next->task.sequence);
      if (hint->after_queued_at_ms != 0) {
        memory_.scored(t.endpoint_id, t.resource, hint->after_queued_at_ms);
      }
    } else if (r->next) {
      memory_.released(t.endpoint_id, t.resource, r->next->sequence);
      memory_.scored(t.endpoint_id, t.resource, 0);  // from the record: not known here
    } else if (r->was_head) {
      memory_.forget(t.endpoint_id, t.resource);  // its queue is empty
    }
    co_return *r;
  }
  // Ran, but not the script's reply (never expected): a next event it leased to us would wait
  // for as long as we renew. So we become another holder: the old one lapses, and a walk makes
  // its heads due (those still in flight here may be sent twice, as at-least-once allows).
  log::error("ordered release: unexpected reply",
             {{"event", t.event_id}, {"endpoint", t.endpoint_id}, {"error", r.error().message}});
  holder_ = ids::random_base62(12);
  renewed_.clear();
  co_return ordered::released{};
}

}  // namespace tresse::dispatcher
