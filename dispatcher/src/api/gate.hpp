// The door every Management API request passes: who is calling, and may they call now.
//
// One Lua script per request looks the presented key up by its hash and counts the request in
// a fixed one-minute window, shared by every dispatcher instance through Redis: per key when
// the key is valid, else per client address (so unauthenticated traffic is limited too and
// still gets rate-limit headers). The script touches the key's record and counter only (one
// hash tag, for Redis Cluster); a request without a valid key is counted per address by plain
// commands, in a second round trip (none is sent before the script when no key is presented).
//
//   api::gate g(redis, {.limit_per_minute = 600});            // redis: an async_client
//   auto v = co_await g.admit(read_credentials(...), peer_ip, now);  // one pipelined call
//   if (!v) -> 503;  v->allowed(), v->who, ...
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/keys.hpp"
#include "redis/async_client.hpp"
#include "redis/command_list.hpp"
#include "redis/request.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::api {

// What the request presented, read from its headers.
struct credentials {
  enum class kind {
    none,          // no Authorization, no X-API-Key
    business_key,  // Bearer sk_live_… / sk_test_… (well-formed)
    portal_session, // Bearer ps_… (well-formed): api/portal_sessions.hpp
    developer_key, // dk_… as Bearer or X-API-Key: the Public API's key, refused here
    malformed,     // anything else
  };
  kind type = kind::none;
  std::string token;   // the bearer token, when business_key or portal_session
  std::string digest;  // key_hash(token) with it: what Redis knows the key by, hashed once
};

credentials read_credentials(std::string_view authorization, std::string_view x_api_key);

struct caller {
  std::string key_id;
  std::string business_id;
  key_mode mode = key_mode::live;
  bool portal_session = false;  // key_id is then the session's id ("psn_…")
  bool read_only = false;       // a read-only portal session
  bool livemode() const { return mode == key_mode::live; }
};

struct admission {
  std::optional<caller> who;  // set when the key (or session) is valid and not revoked/expired
  std::uint32_t limit = 0;
  std::uint32_t remaining = 0;
  std::int64_t reset = 0;        // unix seconds when the window ends
  std::int64_t retry_after = 0;  // seconds; > 0 only when over the limit
  bool allowed() const { return retry_after == 0; }
};

struct gate_options {
  std::uint32_t limit_per_minute = 600;
};

class gate {
 public:
  gate(redis::async_client& redis, gate_options opts) : redis_(redis), opts_(opts) {}

  // Transient error when Redis is unreachable.
  boost::asio::awaitable<result<admission>> admit(const credentials& c, std::string peer,
                                                  std::chrono::system_clock::time_point now);

  // admit()'s round trips: the script call for a presented key and its reply's reading
  // (nullopt: not a valid key, nothing counted), then the client address's count.
  static bool presents_key(const credentials& c);
  static redis::request admit_request(const credentials& c,
                                      std::chrono::system_clock::time_point now);
  result<std::optional<admission>> admission_from(
      const redis::reply& r, std::chrono::system_clock::time_point now) const;
  static redis::request peer_request(const std::string& peer,
                                     std::chrono::system_clock::time_point now);
  result<admission> peer_admission_from(const redis::replies& r,
                                        std::chrono::system_clock::time_point now) const;

  // For a business key this process has seen valid (the cached GET /v1/webhooks in
  // service.cpp): admit() as plain commands to pipeline, without the script, whose call was
  // most of what such a request cost Redis (~20 of ~45 µs). They read the key's record and
  // count the request against the key. Not atomic as the script is: a key revoked since it was
  // seen has counted this one against itself, and admission_from_known answers nullopt so
  // that admit() decides (counting it again, per client address, as for any unknown key).
  static redis::command_list known_key_commands(const std::string& key_digest,
                                                std::chrono::system_clock::time_point now);
  static constexpr std::size_t known_key_replies = 3;
  // From the replies r[from ...] to known_key_commands.
  result<std::optional<admission>> admission_from_known(
      const std::vector<redis::reply>& r, std::size_t from,
      std::chrono::system_clock::time_point now) const;

  // What a request that could not be counted (Redis unreachable) reports: the limit, nothing
  // used, the current window's end.
  admission uncounted(std::chrono::system_clock::time_point now) const;

 private:
  // The admission of the request that made a window's count `n`.
  admission counted(std::int64_t n, std::chrono::system_clock::time_point now) const;

  redis::async_client& redis_;
  gate_options opts_;
};

}  // namespace tresse::dispatcher::api
