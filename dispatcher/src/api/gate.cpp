#include "api/gate.hpp"

#include <algorithm>

#include "api/portal_sessions.hpp"
#include "redis/keys.hpp"

namespace tresse::dispatcher::api {
namespace {

namespace keys = redis::keys;

// KEYS: the key (or portal session) record (may not exist), the key's counter: one hash tag,
// the token's digest (redis/keys.hpp). ARGV: counter TTL seconds.
// Returns {count, id, business_id, mode, read_only} for a valid, unrevoked key or an unexpired
// session (read_only: "" for a key, "0"/"1" for a session), counted against the key; else {}
// and nothing counted: the request then counts against its client address
// (gate::peer_request), in another slot, so not in this script.
const redis::script& admit_script() {
  static const redis::script s(R"lua(
local f = redis.call('HMGET', KEYS[1], 'id', 'business_id', 'mode', 'revoked', 'read_only')
if not f[1] or f[4] == '1' then return {} end
local n = redis.call('INCR', KEYS[2])
if n == 1 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
return {n, f[1], f[2], f[3], f[5] or ''}
)lua");
  return s;
}

constexpr std::string_view counter_ttl = "120";

// A window's counter gets its TTL when created (SET NX), then counts: it is used only during its
// minute, so it cannot expire between the two. The INCR's reply is the count.
redis::command_list count_commands(const std::string& counter) {
  redis::command_list c;
  c.add({"SET", counter, "0", "EX", counter_ttl, "NX"}).add({"INCR", counter});
  return c;
}

}  // namespace

credentials read_credentials(std::string_view authorization, std::string_view x_api_key) {
  credentials c;
  if (authorization.empty()) {
    if (x_api_key.empty()) return c;
    c.type = x_api_key.starts_with("dk_") ? credentials::kind::developer_key
                                          : credentials::kind::malformed;
    return c;
  }
  // RFC 7235: the scheme is case-insensitive.
  constexpr std::string_view scheme = "bearer ";
  if (authorization.size() <= scheme.size() ||
      !std::equal(scheme.begin(), scheme.end(), authorization.begin(),
                  [](char a, char b) { return a == (b | 0x20); })) {
    c.type = credentials::kind::malformed;
    return c;
  }
  std::string_view token = authorization.substr(scheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.starts_with("dk_")) {
    c.type = credentials::kind::developer_key;
  } else if (looks_like_business_key(token)) {
    c.type = credentials::kind::business_key;
    c.token = token;
    c.digest = key_hash(token);
  } else if (portal_sessions::looks_like_token(token)) {
    c.type = credentials::kind::portal_session;
    c.token = token;
    c.digest = key_hash(token);
  } else {
    c.type = credentials::kind::malformed;
  }
  return c;
}

namespace {

std::int64_t unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::int64_t window_end(std::int64_t unix_s) { return (unix_s / 60 + 1) * 60; }

// A key's request counter in the window of `now`, for the script and the plain commands alike.
std::string key_counter(std::string_view key_digest, std::chrono::system_clock::time_point now) {
  return keys::key_rate_limit(key_digest, unix_seconds(now) / 60);
}

}  // namespace

admission gate::uncounted(std::chrono::system_clock::time_point now) const {
  admission a;
  a.limit = opts_.limit_per_minute;
  a.remaining = a.limit;
  a.reset = window_end(unix_seconds(now));
  return a;
}

bool gate::presents_key(const credentials& c) {
  return c.type == credentials::kind::business_key || c.type == credentials::kind::portal_session;
}

redis::request gate::admit_request(const credentials& c,
                                   std::chrono::system_clock::time_point now) {
  const bool session = c.type == credentials::kind::portal_session;
  return {&admit_script(),
          {session ? portal_sessions::record_key(c.digest) : keys::api_key(c.digest),
           key_counter(c.digest, now)},
          {std::string(counter_ttl)},
          {}};
}

redis::request gate::peer_request(const std::string& peer,
                                  std::chrono::system_clock::time_point now) {
  redis::request r;
  r.commands = count_commands(keys::rate_limit("ip:" + peer, unix_seconds(now) / 60));
  return r;
}

admission gate::counted(std::int64_t n, std::chrono::system_clock::time_point now) const {
  std::int64_t unix_s = unix_seconds(now);
  admission a;
  a.limit = opts_.limit_per_minute;
  auto count = static_cast<std::uint64_t>(std::max<std::int64_t>(0, n));
  a.remaining = count >= a.limit ? 0 : static_cast<std::uint32_t>(a.limit - count);
  a.reset = window_end(unix_s);
  if (count > a.limit) a.retry_after = std::max<std::int64_t>(1, a.reset - unix_s);
  return a;
}

result<std::optional<admission>> gate::admission_from(
    const redis::reply& r, std::chrono::system_clock::time_point now) const {
  const auto& e = r.elements;
  if (e.empty()) return std::optional<admission>();  // not valid: count the peer
  if (e.size() != 5 || e[0].type != redis::reply::kind::integer) {
    return fail(error_kind::transient, "redis: unexpected reply to the rate-limit script");
  }
  admission a = counted(e[0].integer, now);
  a.who = caller{e[1].str, e[2].str, e[3].str == "test" ? key_mode::test : key_mode::live,
                 !e[4].str.empty(), e[4].str == "1"};
  return std::optional<admission>(std::move(a));
}

result<admission> gate::peer_admission_from(const redis::replies& r,
                                            std::chrono::system_clock::time_point now) const {
  if (auto s = redis::status_of(r); !s) return std::unexpected(s.error());
  if (r->size() != 2 || (*r)[1].type != redis::reply::kind::integer) {
    return fail(error_kind::transient, "redis: unexpected reply to the rate-limit count");
  }
  return counted((*r)[1].integer, now);
}

redis::command_list gate::known_key_commands(const std::string& key_digest,
                                             std::chrono::system_clock::time_point now) {
  redis::command_list c;
  // As the script reads it, then the count.
  c.add({"HMGET", keys::api_key(key_digest), "id", "business_id", "mode", "revoked"})
      .append(count_commands(key_counter(key_digest, now)));
  return c;
}

result<std::optional<admission>> gate::admission_from_known(
    const std::vector<redis::reply>& r, std::size_t from,
    std::chrono::system_clock::time_point now) const {
  if (r.size() < from + known_key_replies || r[from + 2].type != redis::reply::kind::integer) {
    return fail(error_kind::transient, "redis: unexpected reply to the rate-limit count");
  }
  const auto& f = r[from].elements;
  if (f.size() != 4 || f[0].type != redis::reply::kind::string || f[3].str == "1") {
    return std::optional<admission>();  // unknown or revoked now: admit() decides
  }
  admission a = counted(r[from + 2].integer, now);
  a.who = caller{f[0].str, f[1].str, f[2].str == "test" ? key_mode::test : key_mode::live};
  return std::optional<admission>(std::move(a));
}

boost::asio::awaitable<result<admission>> gate::admit(const credentials& c, std::string peer,
                                                      std::chrono::system_clock::time_point now) {
  // The key's script (one slot); only when the key is not valid, the client address's count (a
  // second round trip, in the address's slot).
  if (presents_key(c)) {
    const redis::request req = admit_request(c, now);
    auto r = co_await redis_.eval(*req.lua, req.keys, req.args);
    if (!r) co_return std::unexpected(r.error());
    auto a = admission_from(*r, now);
    if (!a) co_return std::unexpected(a.error());
    if (*a) co_return std::move(**a);
  }
  const redis::request by_peer = peer_request(peer, now);
  redis::replies counted_peer = co_await redis::run(redis_, by_peer);
  co_return peer_admission_from(counted_peer, now);
}

}  // namespace tresse::dispatcher::api
