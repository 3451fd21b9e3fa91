// The per-endpoint delivery options (DESIGN.md "Endpoint options"): extra headers, endpoint
// authentication and the attempt timeout. One place checks them, for the API, the CLI and the
// store alike, and one JSON form reads and writes them: the API's input is the record's form.
//
//   auto h = registry::headers_from_json(body["headers"]);   // {"X-Tenant": "t1"}
//   if (!h) return invalid(h.error().message);               // "field 'headers': ..."
//   auto a = registry::auth_from_json(body["auth"]);         // {"type": "bearer", "token": "…"}
//   std::string shown = registry::masked_auth_json_text(ep.auth);  // token as "…last4"
//
// Errors are permanent and name the field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "registry/endpoint.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::registry {

inline constexpr std::size_t max_extra_headers = 20;
inline constexpr std::size_t max_extra_header_bytes = 4096;  // names and values together
inline constexpr std::uint32_t max_timeout_seconds = 30;

// At most 20 headers and 4 KiB; names are tokens, unique without regard to case, and none the
// dispatcher sets itself or that HTTP reserves (webhook-*, tresse-*, content-type,
// content-length, user-agent, host, authorization: use `auth`, hop-by-hop, transfer-encoding);
// values without CR, LF or NUL.
status validate_headers(const header_list& headers);
// A bearer token of 1-4096 visible ASCII characters; a basic user name of 1-256 characters
// without ':' and a password of 1-1024, neither with control characters.
status validate_auth(const endpoint_auth& auth);
// 0 (delivery.timeout) or 1-30 seconds.
status validate_timeout(std::uint32_t seconds);

// {"name": "value", ...}, checked by validate_headers; sorted by name.
result<header_list> headers_from_json(const nlohmann::json& j);
nlohmann::json headers_to_json(const header_list& headers);
// null (no auth), {"type": "bearer", "token"} or {"type": "basic", "username", "password"},
// checked by validate_auth.
result<endpoint_auth> auth_from_json(const nlohmann::json& j);
nlohmann::json auth_to_json(const endpoint_auth& auth);  // in clear: for the sealed record only

// null (none) or {"certificate": PEM chain, "private_key": PEM}: parsed and checked by
// http::client_identity (the key matches the leaf). The record's sealed form too.
result<client_certificate> client_certificate_from_json(const nlohmann::json& j);
nlohmann::json client_certificate_to_json(const client_certificate& c);  // in clear: sealed
// What the API and the CLI show: null or {"subject", "fingerprint_sha256", "expires_at"}.
nlohmann::json client_certificate_shown(const client_certificate& c);

// What the API and the CLI show: null, or the secret part as "…" + its last 4 characters (only
// "…" when it is shorter than 12, where 4 would be too much of it). Never the secret itself.
nlohmann::json masked_auth_json(const endpoint_auth& auth);

// The Authorization header's value: "Bearer <token>" or "Basic base64(user:password)"; "" for
// none.
std::string authorization_value(const endpoint_auth& auth);

}  // namespace tresse::dispatcher::registry
