// The parsed, immutable state behind a `key`, internal to the receiver.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "tresse/receiver/key.hpp"

namespace tresse::receiver::detail {

struct evp_mac_ctx_free {
  void operator()(EVP_MAC_CTX* p) const noexcept { EVP_MAC_CTX_free(p); }
};
struct evp_pkey_free {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct evp_md_ctx_free {
  void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
};
using mac_ctx_ptr = std::unique_ptr<EVP_MAC_CTX, evp_mac_ctx_free>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, evp_pkey_free>;
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, evp_md_ctx_free>;

inline constexpr std::size_t hmac_size = 32;
inline constexpr std::size_t ed25519_key_size = 32;
inline constexpr std::size_t ed25519_signature_size = 64;
using hmac_bytes = std::array<unsigned char, hmac_size>;
using ed25519_signature = std::array<unsigned char, ed25519_signature_size>;

// The signed content, `id "." timestamp "." body`, kept in pieces so HMAC can stream it.
struct signed_content {
  std::string_view id;
  std::string_view timestamp;
  std::string_view body;
};

struct key_state {
  key_state() = default;
  key_state(const key_state&) = delete;
  key_state& operator=(const key_state&) = delete;
  ~key_state();

  // HMAC-SHA256 of `content` into `out`. Thread-safe. Returns false only if OpenSSL fails.
  bool hmac(const signed_content& content, hmac_bytes& out) const;

  // Ed25519 over `message` (the joined signed content). Thread-safe.
  bool ed25519_sign(std::string_view message, ed25519_signature& out) const;
  bool ed25519_verify(std::string_view message, const unsigned char* signature) const;

  key_kind kind = key_kind::hmac;
  std::vector<unsigned char> secret;  // HMAC key, or the Ed25519 seed; wiped on destruction
  std::array<unsigned char, ed25519_key_size> public_key{};
  pkey_ptr pkey;  // Ed25519 only

  // HMAC: a keyed context that is never used directly, only copied. Creating and keying a
  // context costs more than hashing 1 KiB, so each key keeps a few ready copies that concurrent
  // callers lease (a slot each, found by a per-thread starting index); when all are busy the
  // caller copies the master for itself.
  mac_ctx_ptr hmac_master;
  struct alignas(64) mac_slot {
    std::atomic<bool> busy{false};
    EVP_MAC_CTX* ctx = nullptr;  // owned; created on first lease
  };
  static constexpr std::size_t slot_count = 8;
  mutable std::array<mac_slot, slot_count> slots;
};

}  // namespace tresse::receiver::detail
