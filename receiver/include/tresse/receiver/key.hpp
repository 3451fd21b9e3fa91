// Keys that sign and verify Standard Webhooks signatures.
//
//   whsec_<base64>  HMAC-SHA256 secret (24-64 random bytes), signs and verifies `v1`
//   <base64>        the same, without the prefix (as some providers hand it out)
//   whsk_<base64>   Ed25519 secret key: 32-byte seed followed by the 32-byte public key;
//                   signs and verifies `v1a`
//   whpk_<base64>   Ed25519 public key (32 bytes); verifies `v1a` only
//
//   std::error_code ec;
//   auto k = tresse::receiver::key::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ec);
//   if (ec) { /* ec == errc::invalid_secret */ }
//
// A key is cheap to copy (its state is shared and immutable) and safe to use from many threads.
// Secret material is wiped from memory when the last copy goes away.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

namespace tresse::receiver {

enum class key_kind { hmac, ed25519_secret, ed25519_public };

namespace detail {
struct key_state;
}

class key {
 public:
  // Parses any of the forms above. Returns the key and clears ec; on failure returns an empty
  // key and sets ec to errc::invalid_secret (not base64, empty, longer than 1 KiB decoded, wrong
  // Ed25519 length, or a whsk_ whose public half does not belong to its seed). Surrounding
  // whitespace is not accepted.
  static key parse(std::string_view text, std::error_code& ec);

  key() = default;  // empty: verifies and signs nothing

  bool empty() const noexcept { return state_ == nullptr; }
  key_kind kind() const noexcept;
  bool can_sign() const noexcept;  // hmac or ed25519_secret

  // For an Ed25519 key, its public half as "whpk_..."; empty for HMAC keys.
  std::string public_key() const;

  const detail::key_state* state() const noexcept { return state_.get(); }

 private:
  std::shared_ptr<const detail::key_state> state_;
};

// A new random HMAC secret, "whsec_" + base64 of `bytes` random bytes (24..64, clamped),
// from OpenSSL's RAND_bytes. Returns "" if the random generator fails.
//
//   std::string secret = tresse::receiver::generate_hmac_secret();  // "whsec_..."
std::string generate_hmac_secret(std::size_t bytes = 32);

struct ed25519_keypair {
  std::string secret_key;  // "whsk_..."
  std::string public_key;  // "whpk_..."
};
// A new random Ed25519 key pair: the sender signs with secret_key, receivers verify with
// public_key. Both strings are empty if the random generator fails.
ed25519_keypair generate_ed25519_keypair();

}  // namespace tresse::receiver
