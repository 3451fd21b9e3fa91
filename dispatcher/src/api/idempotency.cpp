#include "api/idempotency.hpp"

#include <charconv>

#include "api/keys.hpp"
#include "redis/keys.hpp"

namespace tresse::dispatcher::api {
namespace {

namespace keys = redis::keys;

// KEYS: the record. ARGV: fingerprint, lease seconds (how long a claim holds).
// Returns {"fresh"} after claiming, {"pending", fp} or {"done", fp, status, body}.
const redis::script& begin_script() {
  static const redis::script s(R"lua(
local f = redis.call('HMGET', KEYS[1], 'state', 'fingerprint', 'status', 'body')
if not f[1] then
  redis.call('HSET', KEYS[1], 'state', 'pending', 'fingerprint', ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return {'fresh'}
end
if f[1] == 'pending' then return {'pending', f[2]} end
return {'done', f[2], f[3], f[4]}
)lua");
  return s;
}

// KEYS: the record. ARGV: status, body, ttl seconds. Keeps the response of a claim that still
// holds; a claim whose lease ran out is gone (or another request's), and is left alone.
const redis::script& finish_script() {
  static const redis::script s(R"lua(
if redis.call('HGET', KEYS[1], 'state') ~= 'pending' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'done', 'status', ARGV[1], 'body', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
)lua");
  return s;
}

}  // namespace

bool valid_idempotency_key(std::string_view k) {
  if (k.empty() || k.size() > 255) return false;
  for (char c : k) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

result<idempotent_start> idempotency::begin(std::string_view key_id,
                                            std::string_view idempotency_key,
                                            std::string_view fingerprint) {
  auto op = begin_op(key_id, idempotency_key, fingerprint);
  return redis::run(*redis_, op);
}

status idempotency::finish(std::string_view key_id, std::string_view idempotency_key,
                           unsigned status, std::string_view body) {
  auto op = finish_op(key_id, idempotency_key, status, body);
  auto r = redis::run(*redis_, op);
  if (!r) return std::unexpected(r.error());
  return {};
}

redis::operation<idempotent_start> idempotency::begin_op(std::string_view key_id,
                                                         std::string_view idempotency_key,
                                                         std::string_view fingerprint) const {
  using op = redis::operation<idempotent_start>;
  return op::one({&begin_script(),
                  {keys::idempotency(key_id, key_hash(idempotency_key))},
                  {std::string(fingerprint), std::to_string(lease_.count())},
                  {}},
                 [this, key_id = std::string(key_id), fingerprint = std::string(fingerprint)](
                     op&, redis::replies replies) -> std::optional<result<idempotent_start>> {
                   auto r = redis::single_reply(std::move(replies));
                   if (!r) return std::unexpected(r.error());
                   const auto& e = r->elements;
                   idempotent_start out;
                   if (e.empty() || e[0].str == "fresh") return out;
                   if (e.size() < 2 || e[1].str != fingerprint) {
                     out.what = idempotent_start::state::mismatch;
                   } else if (e[0].str == "pending") {
                     out.what = idempotent_start::state::in_progress;
                   } else {
                     out.what = idempotent_start::state::replay;
                     if (e.size() >= 4) {
                       std::from_chars(e[2].str.data(), e[2].str.data() + e[2].str.size(),
                                       out.status);
                       out.body = e[3].str;
                       if (box_) {
                         auto plain = box_->open(out.body, key_id);
                         if (!plain) return std::unexpected(plain.error());
                         out.body = std::move(*plain);
                       }
                     }
                   }
                   return out;
                 });
}

redis::operation<std::monostate> idempotency::finish_op(std::string_view key_id,
                                                        std::string_view idempotency_key,
                                                        unsigned status,
                                                        std::string_view body) const {
  using op = redis::operation<std::monostate>;
  std::string key = keys::idempotency(key_id, key_hash(idempotency_key));
  auto on_reply = [](op&, redis::replies replies) -> std::optional<result<std::monostate>> {
    auto r = redis::single_reply(std::move(replies));
    if (!r) return std::unexpected(r.error());
    return std::monostate{};
  };
  if (status == 429 || status >= 500) {
    return op::one(redis::single_command({"DEL", key}), std::move(on_reply));
  }
  std::string stored(body);
  if (box_) {
    auto sealed = box_->seal(body, key_id);
    if (!sealed) return op::done(std::unexpected(sealed.error()));
    stored = std::move(*sealed);
  }
  return op::one({&finish_script(),
                  {std::move(key)},
                  {std::to_string(status), std::move(stored), std::to_string(ttl_.count())},
                  {}},
                 std::move(on_reply));
}

}  // namespace tresse::dispatcher::api
