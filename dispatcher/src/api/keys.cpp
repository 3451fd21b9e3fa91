#include "api/keys.hpp"

#include <openssl/evp.h>

#include <array>
#include <charconv>

#include "api/portal_sessions.hpp"
#include "redis/keys.hpp"
#include "redis/request.hpp"
#include "tresse/common/event.hpp"
#include "tresse/common/ids.hpp"

namespace tresse::dispatcher::api {
namespace {

namespace keys = redis::keys;
using json = nlohmann::json;

constexpr std::size_t secret_random_chars = 32;

std::int64_t unix_ms(clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

api_key from_fields(const redis::reply& r) {
  api_key k;
  const auto& e = r.elements;
  for (std::size_t i = 0; i + 1 < e.size(); i += 2) {
    const std::string& f = e[i].str;
    const std::string& v = e[i + 1].str;
    if (f == "id") {
      k.id = v;
    } else if (f == "business_id") {
      k.business_id = v;
    } else if (f == "mode") {
      k.mode = v == "test" ? key_mode::test : key_mode::live;
    } else if (f == "last4") {
      k.last4 = v;
    } else if (f == "created_at") {
      std::int64_t ms = 0;
      std::from_chars(v.data(), v.data() + v.size(), ms);
      k.created_at = clock::time_point(std::chrono::milliseconds(ms));
    } else if (f == "revoked") {
      k.revoked = v == "1";
    }
  }
  return k;
}

}  // namespace

std::string_view to_string(key_mode m) { return m == key_mode::live ? "live" : "test"; }

json to_json(const api_key& k) {
  return {{"id", k.id},
          {"object", "api_key"},
          {"business_id", k.business_id},
          {"mode", to_string(k.mode)},
          {"last4", k.last4},
          {"created_at", tresse::events::format_rfc3339(k.created_at)},
          {"revoked", k.revoked}};
}

std::string key_hash(std::string_view secret) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  // Fetched once: EVP_sha256() makes EVP_Digest look the implementation up by name on every
  // call, most of what hashing a 40-byte key costs (~10 k instructions a request).
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_Digest(secret.data(), secret.size(), md.data(), &len, sha256, nullptr);
  // Every API request hashes its key: no printf per byte.
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex(std::size_t{len} * 2, '0');
  for (unsigned int i = 0; i < len; ++i) {
    hex[2 * i] = digits[md[i] >> 4];
    hex[2 * i + 1] = digits[md[i] & 0xf];
  }
  return hex;
}

bool looks_like_business_key(std::string_view token) {
  if (!token.starts_with("sk_live_") && !token.starts_with("sk_test_")) return false;
  std::string_view rest = token.substr(8);
  if (rest.size() != secret_random_chars) return false;
  for (char c : rest) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

result<created_key> key_store::create(std::string_view business_id, key_mode mode) {
  if (!tresse::events::is_valid_id(business_id)) {
    return fail(error_kind::permanent, "business id must match [A-Za-z0-9_-]{1,128}");
  }
  created_key out;
  auto now = clock::now();
  out.secret = std::string(mode == key_mode::live ? "sk_live_" : "sk_test_") +
               ids::random_base62(secret_random_chars);
  out.key.id = ids::time_ordered("key_", now);
  out.key.business_id = business_id;
  out.key.mode = mode;
  out.key.last4 = out.secret.substr(out.secret.size() - 4);
  out.key.created_at = clock::time_point(std::chrono::milliseconds(unix_ms(now)));
  std::string hash = key_hash(out.secret);
  // Three keys in three slots (no MULTI: a Redis Cluster refuses one across slots), in this
  // order: should only the first ones land, the secret was never returned, so the half-made
  // key is unusable and harmless.
  auto r = redis_->pipeline({{"HSET", keys::api_key(hash), "id", out.key.id, "business_id",
                              out.key.business_id, "mode", std::string(to_string(mode)), "last4",
                              out.key.last4, "created_at", std::to_string(unix_ms(now)),
                              "revoked", "0"},
                             {"SET", keys::api_key_id(out.key.id), hash},
                             {"ZADD", std::string(keys::api_keys_all), "0", out.key.id}});
  if (!r) return std::unexpected(r.error());
  if (auto st = redis::first_error(*r); !st) {
    return fail(error_kind::transient, "redis: key creation failed: " + st.error().message);
  }
  return out;
}

result<std::vector<api_key>> key_store::list(std::string_view business_id) {
  auto ids = redis_->command({"ZRANGE", keys::api_keys_all, "0", "-1"});
  if (!ids) return std::unexpected(ids.error());
  std::vector<api_key> out;
  for (const auto& id : ids->elements) {
    auto hash = redis_->command({"GET", keys::api_key_id(id.str)});
    if (!hash) return std::unexpected(hash.error());
    if (hash->is_nil()) continue;
    auto fields = redis_->command({"HGETALL", keys::api_key(hash->str)});
    if (!fields) return std::unexpected(fields.error());
    if (fields->elements.empty()) continue;
    api_key k = from_fields(*fields);
    if (business_id.empty() || k.business_id == business_id) out.push_back(std::move(k));
  }
  return out;
}

result<bool> key_store::revoke(std::string_view key_id) {
  auto hash = redis_->command({"GET", keys::api_key_id(key_id)});
  if (!hash) return std::unexpected(hash.error());
  if (hash->is_nil()) return false;
  auto r = redis_->command({"HSET", keys::api_key(hash->str), "revoked", "1"});
  if (!r) return std::unexpected(r.error());
  // The portal sessions made with the key end with it (revoked first, so it makes no more).
  auto ended = portal_sessions::end_sessions_of(*redis_, key_id);
  if (!ended) return std::unexpected(ended.error());
  return true;
}

}  // namespace tresse::dispatcher::api
