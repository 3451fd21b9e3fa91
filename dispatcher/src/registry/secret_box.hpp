// Encryption at rest for endpoint secrets: AES-256-GCM (OpenSSL EVP), a fresh random 96-bit
// nonce per seal, and associated data (the endpoint id) so a sealed value cannot be moved to
// another endpoint. The key is wiped on destruction and never logged or printed.
//
//   auto box = registry::secret_box::from_text(std::getenv("TRESSE_ENCRYPTION_KEY"));
//   auto sealed = box->seal(R"({"current":"whsec_..."})", "we_123");  // "v1:<base64>"
//   auto plain = box->open(*sealed, "we_123");  // error if the key or the id differ
#pragma once

#include <string>
#include <string_view>

#include "tresse/common/result.hpp"

namespace tresse::dispatcher::registry {

class secret_box {
 public:
  static constexpr std::size_t key_size = 32;

  // The one parser of the key's text form, which the daemon's registry.encryption_key and the
  // ops commands' --encryption-key / $TRESSE_REGISTRY_ENCRYPTION_KEY share: 64 hex digits or
  // base64 of 32 bytes (`openssl rand -hex 32` or `openssl rand -base64 32`). Returns the 32
  // bytes; a permanent error otherwise, whose message never contains the key.
  static result<std::string> decode_key(std::string_view text);
  // decode_key, then from_bytes.
  static result<secret_box> from_text(std::string_view text);
  // `key` must be exactly 32 bytes (permanent error otherwise).
  static result<secret_box> from_bytes(std::string_view key);

  secret_box(const secret_box& other) = default;
  secret_box(secret_box&&) = default;
  secret_box& operator=(const secret_box&) = default;
  secret_box& operator=(secret_box&&) = default;
  ~secret_box();

  // "v1:" + base64(nonce | ciphertext | tag).
  result<std::string> seal(std::string_view plaintext, std::string_view associated) const;
  // Permanent error when the value was sealed with another key or for other associated data,
  // or is malformed.
  result<std::string> open(std::string_view sealed, std::string_view associated) const;

  // A fresh random key as base64, for operators (`openssl rand -base64 32` works too).
  static std::string generate_key_text();

 private:
  explicit secret_box(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

// Standard base64 with padding, via OpenSSL. decode: permanent error on malformed input.
std::string base64_encode(std::string_view bytes);
result<std::string> base64_decode(std::string_view text);

}  // namespace tresse::dispatcher::registry
