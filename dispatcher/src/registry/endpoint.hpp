// A business's webhook endpoint: where to deliver, which events, and the secrets that sign.
//
//   registry::endpoint ep = ...;
//   if (ep.subscribes_to("appointment.created", /*livemode=*/true)) {
//     auto secrets = ep.live_secrets(std::chrono::system_clock::now());  // current first
//   }
//
// Rotation keeps the old secret signing beside the new one until it expires (DESIGN.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/client_identity.hpp"

namespace tresse::dispatcher::registry {

using clock = std::chrono::system_clock;

// Whether one resource's events (data.id) reach the endpoint in publish order
// (delivery/ordered_queue.hpp). "none": fastest, no order promised.
enum class ordering { none, per_resource };
std::string_view to_string(ordering o);
// nullopt: not "none" or "per_resource".
std::optional<ordering> parse_ordering(std::string_view text);

// Which signatures the endpoint's webhooks carry in webhook-signature: "v1" (HMAC with the
// whsec_ secret), "v1a" (Ed25519 with the endpoint's key pair) or "v1,v1a" (both).
enum class signature_scheme { v1, v1a, v1_and_v1a };
std::string_view to_string(signature_scheme s);
// nullopt: not "v1", "v1a" or "v1,v1a".
std::optional<signature_scheme> parse_signature_scheme(std::string_view text);
bool signs_v1(signature_scheme s);
bool signs_v1a(signature_scheme s);
// A whsk_ Ed25519 secret key (signs v1a), rather than a whsec_ secret (signs v1).
bool is_ed25519_key(std::string_view secret);

struct previous_secret {
  std::string secret;  // whsec_..., or whsk_... for v1a
  clock::time_point expires_at;
};

// How the dispatcher authenticates to the endpoint, besides the signature: an Authorization
// header on every attempt. Sealed at rest with the signing secrets; the API shows it masked.
struct endpoint_auth {
  enum class kind { none, bearer, basic };
  kind type = kind::none;
  std::string token;     // bearer
  std::string username;  // basic
  std::string password;  // basic
  bool operator==(const endpoint_auth&) const = default;
};

// A TLS client certificate presented to the endpoint only (mTLS). The PEMs are sealed at rest
// with the signing secrets and never shown: the API shows what `identity` says of them.
struct client_certificate {
  std::string certificate;  // PEM chain, the leaf first; "" for none
  std::string private_key;  // PEM
  std::shared_ptr<const http::client_identity> identity;  // parsed from the two; null for none
  bool empty() const { return certificate.empty(); }
  bool operator==(const client_certificate& o) const {
    return certificate == o.certificate && private_key == o.private_key;
  }
};

// Extra request headers (name, value), sorted by name; checked by registry/endpoint_options.hpp.
using header_list = std::vector<std::pair<std::string, std::string>>;

struct endpoint {
  std::string id;  // "we_" + time-ordered random, so id order is creation order
  std::string business_id;
  std::string url;
  std::vector<std::string> events;  // exact names, "prefix.*", or "*"
  bool livemode = true;             // false: a test-mode endpoint, gets livemode:false events
  std::string secret;               // current, whsec_...; "" until the scheme signs v1
  // The current Ed25519 key pair: whsk_ (sealed with the secrets, never shown) and its whpk_
  // public half (shown); "" until the scheme signs v1a.
  std::string signing_key;
  std::string public_key;
  std::vector<previous_secret> previous_secrets;  // of both kinds
  signature_scheme scheme = signature_scheme::v1;
  bool enabled = true;
  std::string disabled_reason;
  std::string description;
  std::uint32_t rate_limit_per_second = 0;  // 0: no limit
  header_list headers;                      // sent on every attempt
  endpoint_auth auth;
  client_certificate tls_client_certificate;
  std::uint32_t timeout_seconds = 0;  // a whole attempt; 0: delivery.timeout
  ordering order = ordering::none;
  clock::time_point created_at;
  clock::time_point updated_at;
  // Counters kept apart from the record (redis/keys.hpp); read by store::get and list.
  std::int64_t failure_count = 0;
  std::int64_t consecutive_failures = 0;
  std::int64_t dead_lettered = 0;

  // The current keys and every previous one that has not expired at `now`, of the kinds the
  // scheme signs with (whsec_ for v1, whsk_ for v1a): each signs.
  std::vector<std::string> live_secrets(clock::time_point now) const;
  // Calls f(secret) for each of live_secrets(now), in that order, without building the vector,
  // until f returns false. False if it stopped early.
  template <class F>
  bool for_each_live_secret(clock::time_point now, F&& f) const {
    const bool v1 = signs_v1(scheme), v1a = signs_v1a(scheme);
    if (v1 && !secret.empty() && !f(secret)) return false;
    if (v1a && !signing_key.empty() && !f(signing_key)) return false;
    for (const auto& p : previous_secrets) {
      if (p.expires_at > now && (is_ed25519_key(p.secret) ? v1a : v1) && !f(p.secret)) {
        return false;
      }
    }
    return true;
  }

  // Enabled, same mode as the event, and one of `events` matches `event_type`
  // (tresse::events::event_type_matches).
  bool subscribes_to(std::string_view event_type, bool event_livemode) const;
};

// A new endpoint id: "we_" + 8 base62 chars of the creation time in ms + 14 random ones.
std::string new_endpoint_id(clock::time_point now = clock::now());

// Unix-ms timestamps, as the record stores times.
std::int64_t to_unix_ms(clock::time_point t);
clock::time_point from_unix_ms(std::int64_t ms);

// The endpoint as the API and CLI show it: JSON text written directly (the API lists pages of
// these), and the same parsed. The whsec_ secrets are included only when asked (on create and
// rotate), never otherwise; the whpk_ public key always (when the scheme signs v1a); the whsk_
// private key never.
std::string to_json_text(const endpoint& ep, bool include_secret = false);
nlohmann::json to_json(const endpoint& ep, bool include_secret = false);

}  // namespace tresse::dispatcher::registry
