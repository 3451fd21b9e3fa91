#include "api/portal_sessions.hpp"

#include "redis/keys.hpp"

#include <algorithm>
#include <charconv>

#include "tresse/common/event.hpp"
#include "tresse/common/ids.hpp"

namespace tresse::dispatcher::api::portal_sessions {
namespace {

using json = nlohmann::json;
using verb = boost::beast::http::verb;

constexpr std::string_view token_prefix = "ps_";
constexpr std::size_t token_random_chars = 43;  // 43 * log2(62) > 256 bits

std::int64_t unix_ms(clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

bool base62(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool host_char(char c) {
  return base62(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
}

}  // namespace

bool looks_like_token(std::string_view token) {
  if (!token.starts_with(token_prefix)) return false;
  std::string_view rest = token.substr(token_prefix.size());
  if (rest.size() != token_random_chars) return false;
  for (char c : rest) {
    if (!base62(c)) return false;
  }
  return true;
}

std::string record_key(std::string_view digest) { return redis::keys::portal_session(digest); }

std::string of_key(std::string_view key_id) { return redis::keys::portal_sessions_of(key_id); }

// Two round trips, not a script: the records are keys of their own (no shared hash tag).
result<std::size_t> end_sessions_of(redis::client& redis, std::string_view key_id) {
  const std::string set = of_key(key_id);
  auto members = redis.command({"SMEMBERS", set});
  if (!members) return std::unexpected(members.error());
  std::vector<std::vector<std::string>> dels;
  for (const auto& m : members->elements) dels.push_back({"DEL", m.str});
  dels.push_back({"DEL", set});
  auto r = redis.pipeline(dels);
  if (auto st = redis::status_of(r); !st) return std::unexpected(st.error());
  std::size_t live = 0;
  for (std::size_t i = 0; i + 1 < r->size(); ++i) live += (*r)[i].integer > 0 ? 1 : 0;
  return live;
}

redis::operation<created> create_op(std::string_view business_id, key_mode mode,
                                    std::string_view key_id, bool read_only,
                                    std::chrono::seconds ttl, clock::time_point now) {
  created s;
  s.id = ids::time_ordered("psn_", now);
  s.token = std::string(token_prefix) + ids::random_base62(token_random_chars);
  s.read_only = read_only;
  s.expires_at = clock::time_point(std::chrono::milliseconds(unix_ms(now + ttl)));
  redis::request r;
  std::string key = record_key(key_hash(s.token));
  // One transaction per key (a Redis Cluster refuses a MULTI across slots): the record with
  // its TTL, then the key's list. Should only the first land, the token was never returned.
  r.commands.add({"MULTI"})
      .add({"HSET", key, "id", s.id, "business_id", business_id, "mode", to_string(mode),
            "read_only", read_only ? "1" : "0", "key_id", key_id, "expires_at",
            std::to_string(unix_ms(s.expires_at))})
      .add({"PEXPIREAT", key, std::to_string(unix_ms(s.expires_at))})
      .add({"EXEC"})
      .add({"MULTI"})
      // Outlives every member: no session lasts longer than max_ttl.
      .add({"SADD", of_key(key_id), key})
      .add({"EXPIRE", of_key(key_id), std::to_string(max_ttl.count())})
      .add({"EXEC"});
  using op = redis::operation<created>;
  // Then the key is read again (its id names its hash, the hash its record): revoked or gone,
  // the session is removed. The steps in the order they run.
  enum class step { saved, key_hash, revoked, removed };
  return op::one(
      std::move(r),
      [s, key, id = std::string(key_id), at = step::saved](
          op& o, redis::replies got) mutable -> std::optional<result<created>> {
        if (auto st = redis::status_of(got); !st) {
          return result<created>(std::unexpected(st.error()));
        }
        auto remove = [&] {
          o.next = {};
          o.next.commands.add({"DEL", key}).add({"SREM", of_key(id), key});
          at = step::removed;
          return std::nullopt;
        };
        switch (at) {
          case step::saved: {
            // Both EXECs ran (an aborted one replies nil).
            const auto execs = std::count_if(got->begin(), got->end(), [](const redis::reply& x) {
              return x.type == redis::reply::kind::array;
            });
            if (execs != 2) {
              return result<created>(fail(error_kind::transient, "redis: portal session not saved"));
            }
            o.next = {};
            o.next.commands.add({"GET", redis::keys::api_key_id(id)});
            at = step::key_hash;
            return std::nullopt;
          }
          case step::key_hash:
            if (got->front().is_nil()) return remove();  // the key is gone altogether
            o.next = {};
            o.next.commands.add({"HGET", redis::keys::api_key(got->front().str), "revoked"});
            at = step::revoked;
            return std::nullopt;
          case step::revoked:
            if (got->front().str == "1") return remove();
            return result<created>(s);
          case step::removed: {
            created gone = s;
            gone.key_revoked = true;
            return result<created>(std::move(gone));
          }
        }
        return result<created>(s);
      });
}

redis::operation<std::optional<json>> get_op(std::string_view token) {
  using out = std::optional<json>;
  redis::request r;
  r.commands.add({"HMGET", record_key(key_hash(token)), "id", "mode", "read_only", "expires_at"});
  return redis::operation<out>::one(
      std::move(r), [](redis::operation<out>&, redis::replies got) -> std::optional<result<out>> {
        if (auto st = redis::status_of(got); !st) return result<out>(std::unexpected(st.error()));
        const auto& e = got->front().elements;
        if (e.size() != 4 || e[0].is_nil()) return result<out>(out());
        std::int64_t ms = 0;
        std::from_chars(e[3].str.data(), e[3].str.data() + e[3].str.size(), ms);
        return result<out>(json{
            {"object", "portal_session"},
            {"id", e[0].str},
            {"livemode", e[1].str == "live"},
            {"read_only", e[2].str == "1"},
            {"expires_at", tresse::events::format_rfc3339(
                               clock::time_point(std::chrono::milliseconds(ms)))}});
      });
}

std::optional<std::string> refusal(bool read_only, verb method, std::string_view resource) {
  if (resource == "portal_sessions" && method != verb::get && method != verb::head) {
    return "a portal session cannot create portal sessions; use a business API key";
  }
  if (read_only && method != verb::get && method != verb::head) {
    return "this portal session is read-only";
  }
  return std::nullopt;
}

bool valid_host(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  for (char c : host) {
    if (!host_char(c)) return false;
  }
  return true;
}

std::string console_url(std::string_view host, std::string_view forwarded_proto,
                        std::string_view token) {
  std::string scheme = forwarded_proto == "https" ? "https" : "http";
  return scheme + "://" + std::string(host) + "/console/#session=" + std::string(token);
}

}  // namespace tresse::dispatcher::api::portal_sessions
