// Retry-After (RFC 9110 §10.2.3): delta-seconds or an HTTP-date.
//
//   parse_retry_after("120", now)                            -> 120s
//   parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT", now)  -> that time minus now (0 if past)
//   parse_retry_after("soon", now)                           -> nullopt
//
// The value comes from the endpoint, so it is clamped (max_retry_after) rather than
// trusted; the delivery code bounds it further by the retry schedule's maximum.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace tresse::dispatcher::http {

// Far beyond any retry schedule; only keeps arithmetic on hostile values safe.
inline constexpr std::chrono::seconds max_retry_after = std::chrono::hours(24 * 365);

// Accepts delta-seconds and the three HTTP-date forms (IMF-fixdate, RFC 850, asctime).
// Returns nullopt for anything else, and a duration in [0, max_retry_after].
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

}  // namespace tresse::dispatcher::http
