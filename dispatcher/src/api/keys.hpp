// Business API keys: `sk_live_…` / `sk_test_…`, scoped to one business and one mode.
//
// A key is shown once, when created; Redis keeps only its SHA-256 (keys are 190 random bits,
// so a fast hash is enough: there is nothing to brute-force), plus its id, business, mode and
// last four characters for listings. Revoking keeps the record (for audit) marked revoked.
//
//   api::key_store keys(redis);
//   auto k = keys.create("biz_123", api::key_mode::live);  // k->secret: "sk_live_…", once
//   keys.revoke(k->key.id);
//
// Key layout (redis/keys.hpp): tresse:apikey:{sha256} hash, tresse:apikey_id:{id} -> sha256,
// tresse:apikeys zset of ids. Errors: transient when Redis is unreachable, permanent for bad
// input.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redis/client.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::api {

using clock = std::chrono::system_clock;

enum class key_mode { live, test };
std::string_view to_string(key_mode m);

struct api_key {
  std::string id;  // "key_…", time-ordered
  std::string business_id;
  key_mode mode = key_mode::live;
  std::string last4;  // the secret's last four characters, to tell keys apart
  clock::time_point created_at;
  bool revoked = false;
};

struct created_key {
  api_key key;
  std::string secret;  // "sk_live_…": shown once, never stored
};

nlohmann::json to_json(const api_key& k);

// The hex SHA-256 under which a presented secret is looked up.
std::string key_hash(std::string_view secret);

// What a presented bearer token looks like: "sk_live_"/"sk_test_" + 32 base62 characters.
bool looks_like_business_key(std::string_view token);

class key_store {
 public:
  explicit key_store(std::shared_ptr<redis::client> redis) : redis_(std::move(redis)) {}

  // The business id must match [A-Za-z0-9_-]{1,128}.
  result<created_key> create(std::string_view business_id, key_mode mode);
  // Every key (of one business, when given), in creation order to the millisecond (ids are
  // time-ordered; keys made in the same millisecond come in no particular order).
  result<std::vector<api_key>> list(std::string_view business_id = {});
  // false when no such key. Revoking twice is fine.
  result<bool> revoke(std::string_view key_id);

 private:
  std::shared_ptr<redis::client> redis_;
};

}  // namespace tresse::dispatcher::api
