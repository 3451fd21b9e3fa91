#include "api/gate.hpp"

#include <algorithm>

#include "api/portal_sessions.hpp"
#include "redis/keys.hpp"

namespace tresse::dispatcher::api {
namespace {

namespace keys = redis::keys;

// KEYS: key (or portal session) record (may not exist), its counter, the peer's counter.
// ARGV: "1" when a key was presented, counter TTL seconds.
// Returns {count} or {count, id, business_id, mode, read_only} for a valid, unrevoked key or
// an unexpired session (read_only: "" for a key, "0"/"1" for a session).
const redis::script& admit_script() {
  static const redis::script s(R"lua(
local rec = nil
if ARGV[1] == '1' then
  local f = redis.call('HMGET', KEYS[1], 'id', 'business_id', 'mode', 'revoked', 'read_only')
  if f[1] and f[4] ~= '1' then rec = f end
end
local counter = rec and KEYS[2] or KEYS[3]
local n = redis.call('INCR', counter)
if n == 1 then redis.call('EXPIRE', counter, ARGV[2]) end
if rec then return {n, rec[1], rec[2], rec[3], rec[5] or ''} end
return {n}
)lua");
  return s;
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
  } else if (portal_sessions::looks_like_token(token)) {
    c.type = credentials::kind::portal_session;
    c.token = token;
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
  return keys::rate_limit(std::string("key:").append(key_digest), unix_seconds(now) / 60);
}

}  // namespace

admission gate::uncounted(std::chrono::system_clock::time_point now) const {
  admission a;
  a.limit = opts_.limit_per_minute;
  a.remaining = a.limit;
  a.reset = window_end(unix_seconds(now));
  return a;
}

redis::request gate::admit_request(const credentials& c, const std::string& peer,
                                   std::chrono::system_clock::time_point now) {
  std::int64_t minute = unix_seconds(now) / 60;
  bool session = c.type == credentials::kind::portal_session;
  bool presented = c.type == credentials::kind::business_key || session;
  std::string hash = presented ? key_hash(c.token) : std::string();
  return {&admit_script(),
          {session ? portal_sessions::record_key(hash) : keys::api_key(hash),
           key_counter(hash, now),
           keys::rate_limit("ip:" + peer, minute)},
          {presented ? "1" : "0", "120"},
          {}};
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

result<admission> gate::admission_from(const redis::reply& r,
                                       std::chrono::system_clock::time_point now) const {
  const auto& e = r.elements;
  if (e.empty() || e[0].type != redis::reply::kind::integer) {
    return fail(error_kind::transient, "redis: unexpected reply to the rate-limit script");
  }
  admission a = counted(e[0].integer, now);
  if (e.size() == 5) {
    a.who = caller{e[1].str, e[2].str, e[3].str == "test" ? key_mode::test : key_mode::live,
                   !e[4].str.empty(), e[4].str == "1"};
  }
  return a;
}

redis::command_list gate::known_key_commands(const std::string& key_digest,
                                             std::chrono::system_clock::time_point now) {
  const std::string counter = key_counter(key_digest, now);
  redis::command_list c;
  // As the script reads it. The counter gets its TTL when created (SET NX), then counts: a
  // window's counter is used only during its minute, so it cannot expire between the two.
  c.add({"HMGET", keys::api_key(key_digest), "id", "business_id", "mode", "revoked"})
      .add({"SET", counter, "0", "EX", "120", "NX"})
      .add({"INCR", counter});
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
  const redis::request req = admit_request(c, peer, now);
  auto r = co_await redis_.eval(*req.lua, req.keys, req.args);
  if (!r) co_return std::unexpected(r.error());
  co_return admission_from(*r, now);
}

}  // namespace tresse::dispatcher::api
