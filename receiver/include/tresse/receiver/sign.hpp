// Signing, for senders and tests. The dispatcher signs through these functions, so the
// signature format lives in exactly one place.
//
//   std::error_code ec;
//   auto k = tresse::receiver::key::parse(secret, ec);
//   std::string sig = tresse::receiver::sign(k, "evt_1", 1776594720, body, ec);
//   // sig == "v1,<base64 HMAC-SHA256(key, "evt_1.1776594720." + body)>"
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "tresse/receiver/key.hpp"

namespace tresse::receiver {

inline constexpr std::string_view header_id = "webhook-id";
inline constexpr std::string_view header_timestamp = "webhook-timestamp";
inline constexpr std::string_view header_signature = "webhook-signature";

// One signature entry: "v1,<base64>" for an HMAC key, "v1a,<base64>" for an Ed25519 secret
// key, over `id "." timestamp "." body`. Returns "" and sets ec to errc::invalid_secret when
// `k` cannot sign (empty or public-only), or to std::errc::not_enough_memory.
std::string sign(const key& k, std::string_view id, std::int64_t timestamp, std::string_view body,
                 std::error_code& ec);

// The value of a webhook-signature header signed by every key, space-separated (how a secret
// rotation sends old and new signatures together). ec is set if any key cannot sign.
std::string sign_all(const std::vector<key>& keys, std::string_view id, std::int64_t timestamp,
                     std::string_view body, std::error_code& ec);

}  // namespace tresse::receiver
