#include "tresse/receiver/key.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "base64.hpp"
#include "key_state.hpp"
#include "tresse/receiver/errc.hpp"

namespace tresse::receiver {
namespace detail {
namespace {

constexpr std::string_view kHmacPrefix = "whsec_";
constexpr std::string_view kSecretKeyPrefix = "whsk_";
constexpr std::string_view kPublicKeyPrefix = "whpk_";
// Far beyond any real secret (24-64 bytes); keeps a hostile config from costing memory.
constexpr std::size_t kMaxSecretBytes = 1024;

// Decoded bytes that are wiped however the parse ends.
struct wiped_bytes {
  std::vector<unsigned char> bytes;
  ~wiped_bytes() {
    if (!bytes.empty()) OPENSSL_cleanse(bytes.data(), bytes.size());
  }
};

bool decode(std::string_view text, wiped_bytes& out) {
  const std::size_t size = base64_decoded_size(text);
  if (size == 0 || size > kMaxSecretBytes) return false;
  out.bytes.resize(size);
  return base64_decode(text, out.bytes.data(), out.bytes.size()) == size;
}

mac_ctx_ptr keyed_hmac(const unsigned char* secret, std::size_t size) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr) return nullptr;
  mac_ctx_ptr ctx(EVP_MAC_CTX_new(mac));
  EVP_MAC_free(mac);  // the context holds its own reference
  if (!ctx) return nullptr;
  std::array<char, 7> digest = {"SHA256"};
  const std::array<OSSL_PARAM, 2> params = {
      {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest.data(), 0), OSSL_PARAM_END}};
  if (EVP_MAC_init(ctx.get(), secret, size, params.data()) != 1) return nullptr;
  return ctx;
}

std::shared_ptr<key_state> make_hmac(wiped_bytes& secret) {
  auto state = std::make_shared<key_state>();
  state->kind = key_kind::hmac;
  state->hmac_master = keyed_hmac(secret.bytes.data(), secret.bytes.size());
  if (!state->hmac_master) return nullptr;
  state->secret.swap(secret.bytes);
  return state;
}

std::shared_ptr<key_state> make_ed25519_secret(wiped_bytes& bytes) {
  if (bytes.bytes.size() != 2 * ed25519_key_size) return nullptr;
  auto state = std::make_shared<key_state>();
  state->kind = key_kind::ed25519_secret;
  state->pkey.reset(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, bytes.bytes.data(),
                                                 ed25519_key_size));
  if (!state->pkey) return nullptr;
  std::size_t size = state->public_key.size();
  if (EVP_PKEY_get_raw_public_key(state->pkey.get(), state->public_key.data(), &size) != 1 ||
      size != ed25519_key_size) {
    return nullptr;
  }
  // The stored public half must be the one the seed derives, or the key is corrupt.
  if (CRYPTO_memcmp(state->public_key.data(), bytes.bytes.data() + ed25519_key_size,
                    ed25519_key_size) != 0) {
    return nullptr;
  }
  state->secret.assign(bytes.bytes.begin(), bytes.bytes.begin() + ed25519_key_size);
  return state;
}

std::shared_ptr<key_state> make_ed25519_public(const wiped_bytes& bytes) {
  if (bytes.bytes.size() != ed25519_key_size) return nullptr;
  auto state = std::make_shared<key_state>();
  state->kind = key_kind::ed25519_public;
  state->pkey.reset(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, bytes.bytes.data(), ed25519_key_size));
  if (!state->pkey) return nullptr;
  std::copy(bytes.bytes.begin(), bytes.bytes.end(), state->public_key.begin());
  return state;
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

std::size_t thread_slot_start() {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t start = next.fetch_add(1, std::memory_order_relaxed);
  return start;
}

bool update(EVP_MAC_CTX* ctx, std::string_view part) {
  return EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(part.data()), part.size()) == 1;
}

bool run_hmac(EVP_MAC_CTX* ctx, const signed_content& c, hmac_bytes& out) {
  // Each update costs a trip through the provider layer: join the short prefix on the stack.
  std::array<char, 256> prefix;
  bool ok;
  if (c.id.size() + c.timestamp.size() + 2 <= prefix.size()) {
    std::size_t n = 0;
    std::memcpy(prefix.data(), c.id.data(), c.id.size());
    n += c.id.size();
    prefix[n++] = '.';
    std::memcpy(prefix.data() + n, c.timestamp.data(), c.timestamp.size());
    n += c.timestamp.size();
    prefix[n++] = '.';
    ok = update(ctx, std::string_view(prefix.data(), n));
  } else {
    ok = update(ctx, c.id) && update(ctx, ".") && update(ctx, c.timestamp) && update(ctx, ".");
  }
  std::size_t size = 0;
  return ok && update(ctx, c.body) && EVP_MAC_final(ctx, out.data(), &size, out.size()) == 1 &&
         size == hmac_size;
}

}  // namespace

key_state::~key_state() {
  for (auto& slot : slots) EVP_MAC_CTX_free(slot.ctx);  // cleanses the keyed state
  if (!secret.empty()) OPENSSL_cleanse(secret.data(), secret.size());
}

bool key_state::hmac(const signed_content& content, hmac_bytes& out) const {
  if (!hmac_master) return false;
  const std::size_t start = thread_slot_start();
  for (std::size_t i = 0; i < slot_count; ++i) {
    mac_slot& slot = slots[(start + i) % slot_count];
    if (slot.busy.load(std::memory_order_relaxed) ||
        slot.busy.exchange(true, std::memory_order_acquire)) {
      continue;
    }
    bool ok;
    if (slot.ctx == nullptr) {
      slot.ctx = EVP_MAC_CTX_dup(hmac_master.get());
      ok = slot.ctx != nullptr;
    } else {
      // A null key restarts the computation with the key already set.
      ok = EVP_MAC_init(slot.ctx, nullptr, 0, nullptr) == 1;
    }
    ok = ok && run_hmac(slot.ctx, content, out);
    slot.busy.store(false, std::memory_order_release);
    return ok;
  }
  mac_ctx_ptr ctx(EVP_MAC_CTX_dup(hmac_master.get()));
  return ctx && run_hmac(ctx.get(), content, out);
}

bool key_state::ed25519_sign(std::string_view message, ed25519_signature& out) const {
  if (kind != key_kind::ed25519_secret || !pkey) return false;
  md_ctx_ptr ctx(EVP_MD_CTX_new());
  std::size_t size = out.size();
  return ctx && EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) == 1 &&
         EVP_DigestSign(ctx.get(), out.data(), &size,
                        reinterpret_cast<const unsigned char*>(message.data()),
                        message.size()) == 1 &&
         size == ed25519_signature_size;
}

bool key_state::ed25519_verify(std::string_view message, const unsigned char* signature) const {
  if (kind == key_kind::hmac || !pkey) return false;
  md_ctx_ptr ctx(EVP_MD_CTX_new());
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), signature, ed25519_signature_size,
                          reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

}  // namespace detail

key key::parse(std::string_view text, std::error_code& ec) {
  ec.clear();
  std::shared_ptr<detail::key_state> state;
  detail::wiped_bytes bytes;
  try {
    if (detail::starts_with(text, detail::kSecretKeyPrefix)) {
      if (detail::decode(text.substr(detail::kSecretKeyPrefix.size()), bytes)) {
        state = detail::make_ed25519_secret(bytes);
      }
    } else if (detail::starts_with(text, detail::kPublicKeyPrefix)) {
      if (detail::decode(text.substr(detail::kPublicKeyPrefix.size()), bytes)) {
        state = detail::make_ed25519_public(bytes);
      }
    } else {
      if (detail::starts_with(text, detail::kHmacPrefix)) {
        text.remove_prefix(detail::kHmacPrefix.size());
      }
      if (detail::decode(text, bytes)) state = detail::make_hmac(bytes);
    }
  } catch (const std::bad_alloc&) {
    state = nullptr;
  }
  key k;
  if (!state) {
    ec = errc::invalid_secret;
    return k;
  }
  k.state_ = std::move(state);
  return k;
}

key_kind key::kind() const noexcept { return state_ ? state_->kind : key_kind::hmac; }

bool key::can_sign() const noexcept {
  return state_ && (state_->kind == key_kind::hmac || state_->kind == key_kind::ed25519_secret);
}

std::string key::public_key() const {
  if (!state_ || state_->kind == key_kind::hmac) return {};
  std::string out(detail::kPublicKeyPrefix);
  detail::base64_encode(state_->public_key.data(), state_->public_key.size(), out);
  return out;
}

std::string generate_hmac_secret(std::size_t bytes) {
  bytes = std::clamp<std::size_t>(bytes, 24, 64);
  std::array<unsigned char, 64> buffer;
  if (RAND_bytes(buffer.data(), static_cast<int>(bytes)) != 1) return {};
  std::string out(detail::kHmacPrefix);
  detail::base64_encode(buffer.data(), bytes, out);
  OPENSSL_cleanse(buffer.data(), buffer.size());
  return out;
}

ed25519_keypair generate_ed25519_keypair() {
  std::array<unsigned char, 2 * detail::ed25519_key_size> buffer;
  ed25519_keypair pair;
  if (RAND_bytes(buffer.data(), detail::ed25519_key_size) != 1) return pair;
  detail::pkey_ptr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, buffer.data(),
                                                     detail::ed25519_key_size));
  std::size_t size = detail::ed25519_key_size;
  if (pkey &&
      EVP_PKEY_get_raw_public_key(pkey.get(), buffer.data() + detail::ed25519_key_size, &size) ==
          1 &&
      size == detail::ed25519_key_size) {
    pair.secret_key = detail::kSecretKeyPrefix;
    detail::base64_encode(buffer.data(), buffer.size(), pair.secret_key);
    pair.public_key = detail::kPublicKeyPrefix;
    detail::base64_encode(buffer.data() + detail::ed25519_key_size, detail::ed25519_key_size,
                          pair.public_key);
  }
  OPENSSL_cleanse(buffer.data(), buffer.size());
  return pair;
}

}  // namespace tresse::receiver
