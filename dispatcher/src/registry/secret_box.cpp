#include "registry/secret_box.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>

#include "tresse/common/percent_encoding.hpp"

namespace tresse::dispatcher::registry {
namespace {

constexpr std::size_t nonce_size = 12;
constexpr std::size_t tag_size = 16;
constexpr std::string_view version_prefix = "v1:";

struct cipher_ctx_deleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, cipher_ctx_deleter>;

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

std::string base64_encode(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes(in),
                          static_cast<int>(in.size()));
  out.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
  return out;
}

result<std::string> base64_decode(std::string_view in) {
  if (in.size() % 4 != 0) return fail(error_kind::permanent, "bad base64");
  std::string out(3 * (in.size() / 4), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes(in),
                          static_cast<int>(in.size()));
  if (n < 0) return fail(error_kind::permanent, "bad base64");
  // EVP_DecodeBlock counts padding as zero bytes; drop them.
  std::size_t pad = in.ends_with("==") ? 2 : in.ends_with("=") ? 1 : 0;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

result<secret_box> secret_box::from_bytes(std::string_view key) {
  if (key.size() != key_size) {
    return fail(error_kind::permanent, "encryption key must be 32 bytes");
  }
  return secret_box(std::string(key));
}

result<std::string> secret_box::decode_key(std::string_view text) {
  if (text.size() == 2 * key_size) {
    std::string key(key_size, '\0');
    bool ok = true;
    for (std::size_t i = 0; i < key_size && ok; ++i) {
      int hi = hex_digit_value(text[2 * i]), lo = hex_digit_value(text[2 * i + 1]);
      ok = hi >= 0 && lo >= 0;
      key[i] = static_cast<char>(hi * 16 + lo);
    }
    if (ok) return key;
    OPENSSL_cleanse(key.data(), key.size());
  }
  auto decoded = base64_decode(text);
  if (decoded && decoded->size() == key_size) return std::move(*decoded);
  if (decoded) OPENSSL_cleanse(decoded->data(), decoded->size());
  return fail(error_kind::permanent, "encryption key must be 64 hex digits or base64 of 32 bytes");
}

result<secret_box> secret_box::from_text(std::string_view text) {
  auto key = decode_key(text);
  if (!key) return std::unexpected(key.error());
  auto box = from_bytes(*key);
  OPENSSL_cleanse(key->data(), key->size());
  return box;
}

secret_box::~secret_box() { OPENSSL_cleanse(key_.data(), key_.size()); }

std::string secret_box::generate_key_text() {
  std::string key(key_size, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size()));
  std::string text = base64_encode(key);
  OPENSSL_cleanse(key.data(), key.size());
  return text;
}

result<std::string> secret_box::seal(std::string_view plaintext,
                                     std::string_view associated) const {
  std::string out(nonce_size + plaintext.size() + tag_size, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  auto* ct = nonce + nonce_size;
  cipher_ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (RAND_bytes(nonce, nonce_size) != 1 || !ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, bytes(key_), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(associated),
                        static_cast<int>(associated.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), ct, &len, bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), ct + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, tag_size, ct + plaintext.size()) != 1) {
    return fail(error_kind::fatal, "secret encryption failed");
  }
  return std::string(version_prefix) + base64_encode(out);
}

result<std::string> secret_box::open(std::string_view sealed, std::string_view associated) const {
  if (!sealed.starts_with(version_prefix)) {
    return fail(error_kind::permanent, "sealed secret: unknown format");
  }
  auto raw = base64_decode(sealed.substr(version_prefix.size()));
  if (!raw || raw->size() < nonce_size + tag_size) {
    return fail(error_kind::permanent, "sealed secret: malformed");
  }
  std::string_view all(*raw);
  auto nonce = all.substr(0, nonce_size);
  auto ct = all.substr(nonce_size, all.size() - nonce_size - tag_size);
  std::string tag(all.substr(all.size() - tag_size));
  std::string out(ct.size(), '\0');
  cipher_ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  bool ok =
      ctx &&
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, bytes(key_), bytes(nonce)) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(associated),
                        static_cast<int>(associated.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, bytes(ct),
                        static_cast<int>(ct.size())) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, tag_size, tag.data()) == 1 &&
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &len) == 1;
  if (!ok) {
    OPENSSL_cleanse(out.data(), out.size());
    return fail(error_kind::permanent, "cannot decrypt endpoint secrets (wrong encryption key?)");
  }
  return out;
}

}  // namespace tresse::dispatcher::registry
