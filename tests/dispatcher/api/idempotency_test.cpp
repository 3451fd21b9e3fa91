#include "api/idempotency.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "redis/client.hpp"
#include "dispatcher/redis_test.hpp"

namespace tresse::dispatcher::api {
namespace {

using state = idempotent_start::state;

class IdempotencyTest : public test_support::redis_test {};

TEST_F(IdempotencyTest, ReplaysTheFirstResponseOfTheSameRequest) {
  idempotency idem(redis_);
  EXPECT_EQ(idem.begin("key_1", "k", "POST /v1/webhooks abc")->what, state::fresh);
  EXPECT_EQ(idem.begin("key_1", "k", "POST /v1/webhooks abc")->what, state::in_progress);
  ASSERT_TRUE(idem.finish("key_1", "k", 201, R"({"id":"we_1"})"));
  auto again = idem.begin("key_1", "k", "POST /v1/webhooks abc");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->what, state::replay);
  EXPECT_EQ(again->status, 201u);
  EXPECT_EQ(again->body, R"({"id":"we_1"})");
  EXPECT_EQ(idem.begin("key_1", "k", "POST /v1/webhooks other")->what, state::mismatch);
  EXPECT_EQ(idem.begin("key_2", "k", "POST /v1/webhooks other")->what, state::fresh)
      << "scoped per API key";
}

TEST_F(IdempotencyTest, StoredResponsesAreSealedWithAnEncryptionKey) {
  auto box = registry::secret_box::from_text(registry::secret_box::generate_key_text());
  ASSERT_TRUE(box);
  idempotency idem(redis_, *box);
  ASSERT_EQ(idem.begin("key_1", "k", "fp")->what, state::fresh);
  const std::string body = R"({"secret":"whsec_c2VjcmV0c2VjcmV0c2VjcmV0"})";
  ASSERT_TRUE(idem.finish("key_1", "k", 201, body));
  auto keys = redis_->command({"KEYS", "tresse:idempotency:*"});
  ASSERT_EQ(keys->elements.size(), 1u);
  auto stored = redis_->command({"HGET", keys->elements[0].str, "body"});
  EXPECT_EQ(stored->str.find("whsec_"), std::string::npos) << "stored in clear";
  auto again = idem.begin("key_1", "k", "fp");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->what, state::replay);
  EXPECT_EQ(again->body, body);
}

TEST_F(IdempotencyTest, TryAgainAnswersAreNotKept) {
  idempotency idem(redis_);
  for (unsigned status : {429u, 500u, 503u}) {
    ASSERT_EQ(idem.begin("key_1", "k", "fp")->what, state::fresh) << status;
    ASSERT_TRUE(idem.finish("key_1", "k", status, "{}"));
  }
  EXPECT_EQ(idem.begin("key_1", "k", "fp")->what, state::fresh);
}

TEST_F(IdempotencyTest, RecordsExpire) {
  idempotency idem(redis_, std::nullopt, std::chrono::seconds(1));
  ASSERT_EQ(idem.begin("key_1", "k", "fp")->what, state::fresh);
  ASSERT_TRUE(idem.finish("key_1", "k", 200, "{}"));
  auto keys = redis_->command({"KEYS", "tresse:idempotency:*"});
  ASSERT_EQ(keys->elements.size(), 1u);
  auto ttl = redis_->command({"TTL", keys->elements[0].str});
  EXPECT_GE(ttl->integer, 0);
  EXPECT_LE(ttl->integer, 1);
}

TEST_F(IdempotencyTest, AClaimHoldsOnlyForItsLease) {
  idempotency idem(redis_, std::nullopt, std::chrono::hours(24), std::chrono::seconds(1));
  ASSERT_EQ(idem.begin("key_1", "k", "fp")->what, state::fresh);
  auto keys = redis_->command({"KEYS", "tresse:idempotency:*"});
  ASSERT_EQ(keys->elements.size(), 1u);
  EXPECT_LE(redis_->command({"TTL", keys->elements[0].str})->integer, 1);
  EXPECT_EQ(idem.begin("key_1", "k", "fp")->what, state::in_progress);
  // The request died mid-way: once the lease ran out, the client's retry runs for real.
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  ASSERT_EQ(idem.begin("key_1", "k", "fp")->what, state::fresh);
  // A response is kept for the whole ttl, not the lease.
  ASSERT_TRUE(idem.finish("key_1", "k", 201, "{}"));
  EXPECT_GT(redis_->command({"TTL", keys->elements[0].str})->integer, 3600);
  EXPECT_EQ(idem.begin("key_1", "k", "fp")->what, state::replay);
}

TEST_F(IdempotencyTest, AResponseAfterTheLeaseRanOutIsNotKept) {
  idempotency idem(redis_, std::nullopt, std::chrono::hours(24), std::chrono::seconds(1));
  ASSERT_EQ(idem.begin("key_1", "k", "fp")->what, state::fresh);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  ASSERT_TRUE(idem.finish("key_1", "k", 201, "{}"));
  EXPECT_TRUE(redis_->command({"KEYS", "tresse:idempotency:*"})->elements.empty());
  EXPECT_EQ(idem.begin("key_1", "k", "fp")->what, state::fresh);
}

TEST(IdempotencyKeyTest, AcceptsPrintableAsciiUpTo255) {
  EXPECT_TRUE(valid_idempotency_key("a"));
  EXPECT_TRUE(valid_idempotency_key(std::string(255, 'x')));
  EXPECT_FALSE(valid_idempotency_key(""));
  EXPECT_FALSE(valid_idempotency_key(std::string(256, 'x')));
  EXPECT_FALSE(valid_idempotency_key("has space"));
  EXPECT_FALSE(valid_idempotency_key("tab\t"));
  EXPECT_FALSE(valid_idempotency_key("caf\xc3\xa9"));
}

}  // namespace
}  // namespace tresse::dispatcher::api
