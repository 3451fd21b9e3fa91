#include "api/keys.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "redis/client.hpp"
#include "dispatcher/redis_test.hpp"

namespace tresse::dispatcher::api {
namespace {

class KeyStoreTest : public test_support::redis_test {};

TEST_F(KeyStoreTest, StoresOnlyTheHashOfTheSecret) {
  key_store keys(redis_);
  auto k = keys.create("biz_1", key_mode::live);
  ASSERT_TRUE(k) << k.error().message;
  EXPECT_TRUE(looks_like_business_key(k->secret)) << k->secret;
  EXPECT_TRUE(k->secret.starts_with("sk_live_"));
  EXPECT_EQ(k->key.last4, k->secret.substr(k->secret.size() - 4));
  EXPECT_TRUE(k->key.id.starts_with("key_"));
  // Nothing in Redis contains the secret; the record is found by its SHA-256.
  auto all = redis_->command({"KEYS", "*"});
  ASSERT_TRUE(all);
  for (const auto& name : all->elements) {
    EXPECT_EQ(name.str.find(k->secret), std::string::npos);
    auto type = redis_->command({"TYPE", name.str});
    if (type->str == "string") {
      EXPECT_EQ(redis_->command({"GET", name.str})->str.find(k->secret), std::string::npos);
    } else if (type->str == "hash") {
      for (const auto& f : redis_->command({"HGETALL", name.str})->elements) {
        EXPECT_EQ(f.str.find(k->secret), std::string::npos);
      }
    }
  }
  EXPECT_EQ(redis_->command({"EXISTS", "tresse:apikey:{" + key_hash(k->secret) + "}"})->integer, 1);
  EXPECT_EQ(key_hash(k->secret).size(), 64u);
}

TEST_F(KeyStoreTest, ListsPerBusinessAndRevokes) {
  key_store keys(redis_);
  // A millisecond apart: the listing's order is the ids' time order, to the millisecond.
  auto a = keys.create("biz_1", key_mode::live);
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  auto b = keys.create("biz_1", key_mode::test);
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  auto c = keys.create("biz_2", key_mode::live);
  ASSERT_TRUE(a && b && c);
  EXPECT_NE(a->secret, b->secret);
  auto mine = keys.list("biz_1");
  ASSERT_TRUE(mine);
  ASSERT_EQ(mine->size(), 2u);
  EXPECT_EQ((*mine)[0].id, a->key.id);  // creation order
  EXPECT_EQ((*mine)[1].mode, key_mode::test);
  EXPECT_EQ(keys.list()->size(), 3u);
  EXPECT_TRUE(keys.revoke(a->key.id).value());
  EXPECT_TRUE(keys.revoke(a->key.id).value()) << "revoking twice is fine";
  EXPECT_FALSE(keys.revoke("key_nope").value());
  EXPECT_TRUE(keys.list("biz_1")->at(0).revoked);
  EXPECT_FALSE(keys.list("biz_1")->at(1).revoked);
}

TEST_F(KeyStoreTest, RefusesBadBusinessIds) {
  key_store keys(redis_);
  EXPECT_FALSE(keys.create("", key_mode::live));
  EXPECT_FALSE(keys.create("biz 1", key_mode::live));
  EXPECT_FALSE(keys.create(std::string(129, 'b'), key_mode::live));
}

}  // namespace
}  // namespace tresse::dispatcher::api
