// Verifying an incoming webhook.
//
//   std::error_code ec;
//   tresse::receiver::verifier v({tresse::receiver::key::parse(secret, ec)});
//   auto result = v.verify(
//       [&](std::string_view name) { return my_request.header(name); },  // optional<string_view>
//       my_request.body());
//   if (result.code() == tresse::receiver::errc::replayed) return 200;  // a duplicate: ack it
//   if (!result) {
//     log(tresse::receiver::to_string(result.code()), result.message);  // e.g. "timestamp_too_old"
//     return 401;
//   }
//
// `replayed` (only with a replay guard) means authentic and already accepted: delivery is at
// least once, so answer such a duplicate 2xx and skip the work. A 4xx would make the sender
// retry it, and a Tresse dispatcher would open the endpoint's circuit and dead-letter it.
//
// Several secrets (rotation), a tighter window and a fixed clock for tests:
//
//   tresse::receiver::verifier_options options;
//   options.tolerance = std::chrono::seconds(60);
//   options.clock = [] { return std::chrono::system_clock::from_time_t(1776594720); };
//   auto v2 = tresse::receiver::verifier::from_secrets({new_secret, old_secret}, options, ec);
//
// Checks, in this order: headers present (missing_header) → timestamp parses
// (invalid_timestamp) → within tolerance in both directions (timestamp_too_old /
// timestamp_too_new) → some v1/v1a entry of webhook-signature matches some key, compared in
// constant time (no_matching_signature) → the id was not seen before, if a replay guard is set
// (replayed). Malformed entries in webhook-signature are skipped; a value that is not canonical
// base64 (its '=' padding left out, unused bits set) is malformed. The body is checked byte for
// byte: pass exactly the bytes received, before any JSON parsing.
//
// A verifier is immutable after construction and safe to use from many threads at once (the
// clock and replay guard it is given must be too). HMAC keys keep pre-keyed OpenSSL contexts,
// so verification costs little more than hashing the body. A failed verification is a result,
// never an exception (only running out of memory throws std::bad_alloc).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "tresse/receiver/errc.hpp"
#include "tresse/receiver/key.hpp"
#include "tresse/receiver/replay_guard.hpp"

namespace tresse::receiver {

// Looks a header up by its lower-case name; returns nullopt when absent. The callback is
// responsible for case-insensitive matching if its framework is case-sensitive.
using header_lookup = std::function<std::optional<std::string_view>(std::string_view name)>;

// Bounds that keep hostile input cheap: a longer webhook-signature header is not parsed at all
// (no_matching_signature), and only its first entries are looked at.
inline constexpr std::size_t max_signature_header_size = 4096;
inline constexpr std::size_t max_signature_entries = 16;

struct verifier_options {
  std::chrono::seconds tolerance{300};  // accepted clock skew, in both directions
  // Current time; the system clock when empty. Inject a fixed clock in tests.
  std::function<std::chrono::system_clock::time_point()> clock;
  std::shared_ptr<replay_guard> replay;  // optional
};

struct verification {
  std::error_code error;  // empty when the webhook is authentic
  std::string message;    // human-readable cause, naming the header; empty on success
  std::string id;         // webhook-id, when present
  std::int64_t timestamp = 0;

  explicit operator bool() const noexcept { return !error; }
  errc code() const noexcept { return static_cast<errc>(error.value()); }
};

class verifier {
 public:
  // Empty keys are ignored. A verifier without keys fails every signature check with
  // errc::invalid_secret.
  explicit verifier(std::vector<key> keys, verifier_options options = {});

  // Parses every secret; on the first one that fails sets ec (errc::invalid_secret) and
  // returns a verifier that rejects everything.
  static verifier from_secrets(const std::vector<std::string>& secrets, verifier_options options,
                               std::error_code& ec);

  // Returns a verification that converts to true when the webhook is authentic; otherwise its
  // error is one of errc::missing_header, invalid_timestamp, timestamp_too_old,
  // timestamp_too_new, no_matching_signature, invalid_secret (no keys configured) or replayed,
  // checked in that order, and its message names the header or cause.
  verification verify(const header_lookup& headers, std::string_view body) const;

  // Convenience: headers as a map whose keys may be in any case. The first of repeated names
  // counts.
  verification verify(const std::map<std::string, std::string>& headers,
                      std::string_view body) const;
  verification verify(const std::vector<std::pair<std::string, std::string>>& headers,
                      std::string_view body) const;

  // Verify with explicit header values (any may be empty = missing).
  verification verify(std::string_view id, std::string_view timestamp, std::string_view signature,
                      std::string_view body) const;

  // The same at an explicit time instead of the configured clock (for callers that read the
  // clock themselves, like the C API).
  verification verify(std::string_view id, std::string_view timestamp, std::string_view signature,
                      std::string_view body, std::chrono::system_clock::time_point now) const;

  const verifier_options& options() const noexcept { return options_; }

 private:
  std::vector<key> keys_;
  verifier_options options_;
};

}  // namespace tresse::receiver
