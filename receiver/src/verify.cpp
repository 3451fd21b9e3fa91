#include "tresse/receiver/verify.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <limits>
#include <string>

#include "base64.hpp"
#include "key_state.hpp"
#include "tresse/receiver/sign.hpp"

namespace tresse::receiver {
namespace {

// Bounds a tolerance so that `now ± tolerance` cannot overflow.
constexpr std::int64_t kMaxToleranceSeconds = std::int64_t{1} << 40;

// One decoded webhook-signature entry.
struct signature_entry {
  bool asymmetric;  // v1a (Ed25519) rather than v1 (HMAC)
  detail::ed25519_signature bytes;
};

verification fail(verification& r, errc code, std::string message) {
  r.error = code;
  r.message = std::move(message);
  return std::move(r);
}

bool parse_timestamp(std::string_view text, std::int64_t& out) {
  if (text.empty() || text.size() > 19) return false;  // 19 digits always fit in 64 bits
  std::uint64_t value = 0;
  for (const char c : text) {
    const auto digit = static_cast<unsigned>(c) - '0';
    if (digit > 9) return false;  // no sign, space, or fraction
    value = value * 10 + digit;
  }
  if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return false;
  out = static_cast<std::int64_t>(value);
  return true;
}

// Splits `header` on spaces and decodes each well-formed entry into `entries`, at most
// max_signature_entries of them (malformed ones count too, so junk cannot make us loop).
std::size_t parse_signatures(std::string_view header,
                             std::array<signature_entry, max_signature_entries>& entries) {
  std::size_t count = 0;
  std::size_t seen = 0;
  while (!header.empty() && seen < max_signature_entries) {
    const std::size_t space = header.find(' ');
    const std::string_view token = header.substr(0, space);
    header.remove_prefix(space == std::string_view::npos ? header.size() : space + 1);
    if (token.empty()) continue;  // repeated spaces
    ++seen;
    const std::size_t comma = token.find(',');
    if (comma == std::string_view::npos) continue;
    const std::string_view version = token.substr(0, comma);
    const std::string_view value = token.substr(comma + 1);
    signature_entry& e = entries[count];
    std::size_t expected;
    if (version == "v1") {
      e.asymmetric = false;
      expected = detail::hmac_size;
    } else if (version == "v1a") {
      e.asymmetric = true;
      expected = detail::ed25519_signature_size;
    } else {
      continue;  // an unknown scheme, maybe a newer one: not ours to judge
    }
    // Only the canonical encoding (padded, zero trailing bits) matches, as in every Standard
    // Webhooks library: they compare the text, so "the same bytes" spelled otherwise is not.
    constexpr auto pad = detail::padding::required;
    if (detail::base64_decoded_size(value, pad) != expected) continue;
    if (detail::base64_decode(value, e.bytes.data(), e.bytes.size(), pad) != expected) continue;
    ++count;
  }
  return count;
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

template <class Headers>
verification verify_headers(const verifier& v, const Headers& headers, std::string_view body) {
  std::string_view id, timestamp, signature;
  for (const auto& [name, value] : headers) {
    if (equals_ignore_case(name, header_id)) {
      if (id.empty()) id = value;
    } else if (equals_ignore_case(name, header_timestamp)) {
      if (timestamp.empty()) timestamp = value;
    } else if (equals_ignore_case(name, header_signature)) {
      if (signature.empty()) signature = value;
    }
  }
  return v.verify(id, timestamp, signature, body);
}

}  // namespace

verifier::verifier(std::vector<key> keys, verifier_options options)
    : keys_(std::move(keys)), options_(std::move(options)) {
  keys_.erase(std::remove_if(keys_.begin(), keys_.end(), [](const key& k) { return k.empty(); }),
              keys_.end());
}

verifier verifier::from_secrets(const std::vector<std::string>& secrets, verifier_options options,
                                std::error_code& ec) {
  ec.clear();
  std::vector<key> keys;
  keys.reserve(secrets.size());
  for (const std::string& secret : secrets) {
    keys.push_back(key::parse(secret, ec));
    if (ec) return verifier({}, std::move(options));
  }
  return verifier(std::move(keys), std::move(options));
}

verification verifier::verify(const header_lookup& headers, std::string_view body) const {
  const auto value = [&headers](std::string_view name) {
    return headers ? headers(name).value_or(std::string_view()) : std::string_view();
  };
  const std::string_view id = value(header_id);  // in order: arguments are unsequenced
  const std::string_view timestamp = value(header_timestamp);
  const std::string_view signature = value(header_signature);
  return verify(id, timestamp, signature, body);
}

verification verifier::verify(const std::map<std::string, std::string>& headers,
                              std::string_view body) const {
  return verify_headers(*this, headers, body);
}

verification verifier::verify(const std::vector<std::pair<std::string, std::string>>& headers,
                              std::string_view body) const {
  return verify_headers(*this, headers, body);
}

verification verifier::verify(std::string_view id, std::string_view timestamp,
                              std::string_view signature, std::string_view body) const {
  return verify(id, timestamp, signature, body,
                options_.clock ? options_.clock() : std::chrono::system_clock::now());
}

verification verifier::verify(std::string_view id, std::string_view timestamp,
                              std::string_view signature, std::string_view body,
                              std::chrono::system_clock::time_point now) const {
  verification r{{}, {}, std::string(id)};  // constructing is cheaper than assigning
  if (id.empty()) return fail(r, errc::missing_header, "missing webhook-id header");
  if (timestamp.empty()) return fail(r, errc::missing_header, "missing webhook-timestamp header");
  if (signature.empty()) return fail(r, errc::missing_header, "missing webhook-signature header");

  std::int64_t ts = 0;
  if (!parse_timestamp(timestamp, ts)) {
    return fail(r, errc::invalid_timestamp,
                "webhook-timestamp header is not an integer number of unix seconds");
  }
  r.timestamp = ts;

  const std::int64_t now_s =
      std::chrono::floor<std::chrono::seconds>(now.time_since_epoch()).count();
  const std::int64_t tolerance =
      std::clamp<std::int64_t>(options_.tolerance.count(), 0, kMaxToleranceSeconds);
  if (ts < now_s - tolerance) {
    return fail(r, errc::timestamp_too_old,
                "webhook-timestamp header is " + std::to_string(now_s - ts) +
                    " s in the past, beyond the tolerance of " + std::to_string(tolerance) + " s");
  }
  if (ts > now_s + tolerance) {
    return fail(r, errc::timestamp_too_new,
                "webhook-timestamp header is " + std::to_string(ts - now_s) +
                    " s in the future, beyond the tolerance of " + std::to_string(tolerance) +
                    " s");
  }

  if (keys_.empty()) {
    return fail(r, errc::invalid_secret, "no valid key is configured to verify webhook-signature");
  }
  if (signature.size() > max_signature_header_size) {
    return fail(r, errc::no_matching_signature,
                "webhook-signature header is longer than " +
                    std::to_string(max_signature_header_size) + " bytes; not checked");
  }
  std::array<signature_entry, max_signature_entries> entries;
  const std::size_t count = parse_signatures(signature, entries);
  bool has_v1 = false;
  bool has_v1a = false;
  for (std::size_t i = 0; i < count; ++i) (entries[i].asymmetric ? has_v1a : has_v1) = true;

  const detail::signed_content content{id, timestamp, body};
  std::string joined;  // for Ed25519, which cannot stream; built on first need
  bool matched = false;
  for (const key& k : keys_) {
    const detail::key_state& state = *k.state();
    if (state.kind == key_kind::hmac) {
      if (!has_v1) continue;
      detail::hmac_bytes mac;
      if (state.hmac(content, mac)) {
        for (std::size_t i = 0; i < count && !matched; ++i) {
          matched = !entries[i].asymmetric &&
                    CRYPTO_memcmp(mac.data(), entries[i].bytes.data(), mac.size()) == 0;
        }
      }
    } else {
      if (!has_v1a) continue;
      if (joined.empty()) {
        joined.reserve(id.size() + timestamp.size() + body.size() + 2);
        joined.append(id).append(".").append(timestamp).append(".").append(body);
      }
      for (std::size_t i = 0; i < count && !matched; ++i) {
        matched = entries[i].asymmetric && state.ed25519_verify(joined, entries[i].bytes.data());
      }
    }
    if (matched) break;
  }
  if (!matched) {
    return fail(r, errc::no_matching_signature,
                count == 0 ? "webhook-signature header has no well-formed v1 or v1a entry"
                           : "no entry of the webhook-signature header matches a configured key");
  }

  if (options_.replay) {
    const auto expires = std::chrono::system_clock::time_point(
        std::chrono::seconds(ts + tolerance + 1));  // +1: `now` is floored to whole seconds
    if (!options_.replay->remember(id, now, expires)) {
      return fail(r, errc::replayed, "webhook-id " + r.id + " was already accepted");
    }
  }
  return r;
}

}  // namespace tresse::receiver
