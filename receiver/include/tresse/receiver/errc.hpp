// Error codes of a failed verification.
//
// A failed verification is a result, never an exception: `verifier::verify` returns a
// `verification` whose `error` is a `std::error_code` in `receiver::category()`. The names
// returned by `to_string` are stable and part of the public contract (the CLI prints them,
// integrators log and match on them).
//
//   tresse::receiver::verification v = verifier.verify(headers, body);
//   if (v.error == tresse::receiver::errc::timestamp_too_old) { ... }
#pragma once

#include <string_view>
#include <system_error>

namespace tresse::receiver {

enum class errc {
  missing_header = 1,     // webhook-id, webhook-timestamp or webhook-signature absent or empty
  invalid_timestamp,      // webhook-timestamp is not a plain unix-seconds integer
  timestamp_too_old,      // older than now - tolerance
  timestamp_too_new,      // newer than now + tolerance
  no_matching_signature,  // no v1/v1a entry matched any configured key
  invalid_secret,         // a key could not be parsed, or cannot do what was asked of it
  replayed,               // the webhook-id was already accepted inside the tolerance window
};

// The category all `errc` values belong to; its name() is "tresse.receiver".
const std::error_category& category() noexcept;

std::error_code make_error_code(errc e) noexcept;

// The stable snake_case name of `e`, e.g. "timestamp_too_old"; "unknown" for other values.
std::string_view to_string(errc e) noexcept;

}  // namespace tresse::receiver

template <>
struct std::is_error_code_enum<tresse::receiver::errc> : std::true_type {};
