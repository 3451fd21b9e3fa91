// The event envelope the platform puts on Kafka and the dispatcher POSTs to endpoints.
//
// One JSON object, UTF-8, at most `max_bytes`:
//   {"id": "evt_2Hq9x7LmQ", "type": "appointment.created", "business_id": "biz_4f8a2c",
//    "livemode": true, "timestamp": "2026-04-19T10:32:00Z", "data": {...}}
// Unknown extra fields are kept (they are part of `raw`). The bytes are never re-serialized:
// `event::raw` is exactly what came in, and exactly what every endpoint receives.
//
//   auto ev = tresse::events::parse_event(message.value, tresse::events::default_max_bytes);
//   if (!ev) dead_letter(ev.error().message);          // e.g. "missing field 'business_id'"
//   else if (tresse::events::event_type_matches("appointment.*", ev->type)) deliver(ev->raw);
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "tresse/common/result.hpp"

namespace tresse::events {

// Every type the platform publishes, plus the toolkit's own ping.
inline constexpr std::array<std::string_view, 10> known_types = {
    "appointment.created",  "appointment.updated",   "appointment.rescheduled",
    "appointment.canceled", "appointment.completed", "appointment.no_show",
    "client.created",       "client.updated",        "client.deleted",
    "webhook.test",
};

// Kafka's default message.max.bytes is about 1 MB; an event never needs more.
inline constexpr std::size_t default_max_bytes = 1024 * 1024;
// Ids and business ids: [A-Za-z0-9_-]{1,128} (they travel as HTTP header values and keys).
inline constexpr std::size_t max_id_length = 128;
// Nesting bound for the whole document (the root object is level 1).
inline constexpr std::size_t max_depth = 64;

struct event {
  std::string id;           // also the webhook-id header: the same on every attempt
  std::string type;         // one of known_types
  std::string business_id;  // also the Kafka key
  bool livemode = true;     // false for sandbox (sk_test_) businesses
  std::string timestamp;    // RFC 3339, as sent
  std::string raw;          // the exact bytes received: the body POSTed to endpoints
};

// Parses and validates one envelope. Errors are `permanent` with a precise message:
//   "event is N bytes, more than the limit of M", "nested deeper than 64 levels",
//   "bad JSON: <what, at byte N>", "event is not a JSON object",
//   "duplicate field 'type'", "missing field 'type'", "field 'livemode' must be a boolean",
//   "unknown event type 'x'", "field 'id' must match [A-Za-z0-9_-]{1,128}",
//   "field 'timestamp' is not an RFC 3339 date-time", "field 'data' must be an object".
result<event> parse_event(std::string_view bytes, std::size_t max_bytes = default_max_bytes);

bool is_known_type(std::string_view type);

// True if `type` is selected by a subscription `pattern`: an exact type, "prefix.*" for every
// type under "prefix." (e.g. "appointment.*"), or "*" for all.
bool event_type_matches(std::string_view pattern, std::string_view type);

// True for "*", a known type, or "prefix.*" where some known type starts with "prefix.".
bool is_valid_subscription(std::string_view pattern);

// [A-Za-z0-9_-]{1,128}.
bool is_valid_id(std::string_view id);

// Strict RFC 3339 date-time (section 5.6): "2026-04-19T10:32:00Z", "…00.123+02:00", with
// calendar checks (month, day in month, leap years). At most 64 characters.
bool is_rfc3339(std::string_view text);

// The instant an RFC 3339 date-time names (fractions kept to the millisecond, offsets
// applied); nullopt when !is_rfc3339(text).
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

// "2026-04-19T10:32:00Z" (UTC, whole seconds).
std::string format_rfc3339(std::chrono::system_clock::time_point t);

// A fresh event id: "evt_" + 22 random base62 characters (about 131 bits).
std::string new_event_id();

}  // namespace tresse::events
