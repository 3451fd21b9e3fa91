// Portal sessions: short-lived bearer tokens a platform creates with a business key
// (POST /v1/portal_sessions) and embeds in its own dashboard as a console URL, so the browser
// never holds the key.
//
// A token is "ps_" + 43 base62 characters (256 bits from OpenSSL's CSPRNG). Redis keeps only
// its SHA-256, as for API keys: the gate finds the session by that digest, so no secret is ever
// compared byte by byte (nothing to time), and a dump of Redis yields no usable token. The
// record expires with the session (PEXPIREAT), after which the token is unknown: 401.
//
// What a session may do is decided here (refusal): the business and mode of the key that made
// it; never create portal sessions; a read-only one only reads. Revoking that key ends its
// sessions at once. The Management API has no
// routes for API keys at all (they are made by `tresse-dispatcher keys`), so no credential can
// create, list or revoke them through it.
//
//   auto op = portal_sessions::create_op("biz_1", key_mode::live, "key_…", false, 900s, now);
//   auto s = co_await redis::run(async_redis, op);   // s->token: shown once
#pragma once

#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "api/keys.hpp"
#include "redis/request.hpp"

namespace tresse::dispatcher::api::portal_sessions {

inline constexpr std::chrono::seconds default_ttl{900};
inline constexpr std::chrono::seconds max_ttl{86400};

// "ps_" + 43 base62 characters.
bool looks_like_token(std::string_view token);

// Where the session whose token has SHA-256 `digest` is kept (a hash: id, business_id, mode,
// read_only, key_id, expires_at). The gate's script reads it as it reads an API key.
std::string record_key(std::string_view digest);

// The set of the records of the sessions API key `key_id` made: revoking the key ends them.
std::string of_key(std::string_view key_id);

// Ends every session API key `key_id` made (key_store::revoke, after marking the key revoked so
// that it makes no more); returns how many were still live. Transient error when Redis is
// unreachable.
result<std::size_t> end_sessions_of(redis::client& redis, std::string_view key_id);

struct created {
  std::string id;     // "psn_…", time-ordered: what idempotency and logs may name
  std::string token;  // shown once, never stored
  clock::time_point expires_at;
  bool read_only = false;
  // The key was revoked while the session was being made: the session was removed again, and
  // the caller answers as for a revoked key.
  bool key_revoked = false;
};

// The session of `key_id`'s business and mode. Transient error when Redis is unreachable.
// Revoking a key marks it revoked, then ends the sessions in its set; so the session is first
// added to that set and then the key is read again: either the revoke finds the session, or
// this finds the key revoked and removes the session itself (key_revoked). Five round trips
// with a live key, seven with one revoked meanwhile (sessions are made once per console visit).
redis::operation<created> create_op(std::string_view business_id, key_mode mode,
                                    std::string_view key_id, bool read_only,
                                    std::chrono::seconds ttl, clock::time_point now);

// The session's public fields ({"object": "portal_session", "id", "livemode", "read_only",
// "expires_at"}), nullopt when it expired meanwhile.
redis::operation<std::optional<nlohmann::json>> get_op(std::string_view token);

// Why a portal session may not make this request (403), or nullopt when it may. `resource` is
// the decoded first path segment after /v1/ ("webhooks", "portal_sessions").
std::optional<std::string> refusal(bool read_only, boost::beast::http::verb method,
                                   std::string_view resource);

// Whether a Host header is a host[:port] that can go into a URL as it is.
bool valid_host(std::string_view host);

// The console URL that logs in with `token`: scheme (https only when a proxy in front says so
// by X-Forwarded-Proto), the request's Host (valid_host), the token in the fragment (never sent
// to a server nor in a Referer).
std::string console_url(std::string_view host, std::string_view forwarded_proto,
                        std::string_view token);

}  // namespace tresse::dispatcher::api::portal_sessions
