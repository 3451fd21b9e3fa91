#include "api/gate.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <memory>
#include <optional>
#include <string>

#include "api/keys.hpp"
#include "api/portal_sessions.hpp"
#include "redis/client.hpp"
#include "redis/keys.hpp"
#include "redis/request.hpp"
#include "dispatcher/redis_test.hpp"

namespace tresse::dispatcher::api {
namespace {

using namespace std::chrono_literals;
using kind = credentials::kind;

TEST(CredentialsTest, ReadsBearerBusinessKeys) {
  std::string key = "sk_live_" + std::string(32, 'a');
  auto c = read_credentials("Bearer " + key, "");
  EXPECT_EQ(c.type, kind::business_key);
  EXPECT_EQ(c.token, key);
  EXPECT_EQ(read_credentials("bearer  " + key + " ", "").token, key);  // scheme case, spaces
  EXPECT_EQ(read_credentials("Bearer sk_test_" + std::string(32, 'Z'), "").type,
            kind::business_key);
}

TEST(CredentialsTest, TellsDeveloperKeysMalformedAndMissingApart) {
  EXPECT_EQ(read_credentials("", "").type, kind::none);
  EXPECT_EQ(read_credentials("", "dk_live_abc").type, kind::developer_key);
  EXPECT_EQ(read_credentials("Bearer dk_test_abc", "").type, kind::developer_key);
  EXPECT_EQ(read_credentials("", "sk_live_abc").type, kind::malformed);
  EXPECT_EQ(read_credentials("Basic dXNlcjpwdw==", "").type, kind::malformed);
  EXPECT_EQ(read_credentials("Bearer", "").type, kind::malformed);
  EXPECT_EQ(read_credentials("Bearer sk_live_short", "").type, kind::malformed);
  EXPECT_EQ(read_credentials("Bearer sk_prod_" + std::string(32, 'a'), "").type, kind::malformed);
  EXPECT_EQ(read_credentials("Bearer sk_live_" + std::string(31, 'a') + "!", "").type,
            kind::malformed);
}

class GateTest : public test_support::redis_test {
 protected:
  void SetUp() override {
    test_support::redis_test::SetUp();
    async_ = std::make_unique<redis::async_client>(redis_->config());
  }
  // Runs one admit() to completion.
  result<admission> admit(gate& g, const std::string& authorization, const std::string& peer,
                          std::chrono::system_clock::time_point now) {
    boost::asio::io_context io;
    const credentials creds = read_credentials(authorization, "");
    std::optional<result<admission>> out;
    boost::asio::co_spawn(io, g.admit(creds, peer, now),
                          [&](std::exception_ptr e, result<admission> r) {
                            if (e) std::rethrow_exception(e);
                            out = std::move(r);
                          });
    io.run();
    return std::move(*out);
  }
  std::unique_ptr<redis::async_client> async_;
};

// A fixed instant in the middle of a minute.
const std::chrono::system_clock::time_point at{std::chrono::seconds(1800000000 + 20)};

TEST_F(GateTest, AdmitsValidKeysAndCountsPerKeyWithinTheMinute) {
  key_store keys(redis_);
  auto k = keys.create("biz_1", key_mode::test);
  ASSERT_TRUE(k) << k.error().message;
  gate g(*async_, {.limit_per_minute = 3});
  std::string creds = "Bearer " + k->secret;
  for (std::uint32_t i = 1; i <= 3; ++i) {
    auto a = admit(g, creds, "10.0.0.1", at);
    ASSERT_TRUE(a) << a.error().message;
    ASSERT_TRUE(a->who);
    EXPECT_EQ(a->who->business_id, "biz_1");
    EXPECT_EQ(a->who->key_id, k->key.id);
    EXPECT_FALSE(a->who->livemode());
    EXPECT_TRUE(a->allowed());
    EXPECT_EQ(a->remaining, 3 - i);
    EXPECT_EQ(a->limit, 3u);
    EXPECT_EQ(a->reset, 1800000000 + 60);
  }
  auto over = admit(g, creds, "10.0.0.1", at);
  ASSERT_TRUE(over);
  EXPECT_FALSE(over->allowed());
  EXPECT_EQ(over->retry_after, 40);
  EXPECT_EQ(over->remaining, 0u);
  // The next minute starts afresh.
  auto next = admit(g, creds, "10.0.0.1", at + 40s);
  ASSERT_TRUE(next);
  EXPECT_TRUE(next->allowed());
  EXPECT_EQ(next->remaining, 2u);
}

TEST_F(GateTest, UnknownAndRevokedKeysCountAgainstTheClientAddress) {
  key_store keys(redis_);
  auto k = keys.create("biz_1", key_mode::live);
  ASSERT_TRUE(k);
  ASSERT_TRUE(keys.revoke(k->key.id).value());
  gate g(*async_, {.limit_per_minute = 2});
  auto revoked = admit(g, "Bearer " + k->secret, "10.0.0.9", at);
  ASSERT_TRUE(revoked);
  EXPECT_FALSE(revoked->who);
  EXPECT_EQ(revoked->remaining, 1u);
  auto anonymous = admit(g, "", "10.0.0.9", at);
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->remaining, 0u);
  EXPECT_FALSE(admit(g, "", "10.0.0.9", at)->allowed());
  EXPECT_TRUE(admit(g, "", "10.0.0.10", at)->allowed()) << "per address";
}

// The key's script counts in the key's slot, the client address in its own: a valid key's
// requests leave the address's window alone, an invalid key's fill it (with its TTL), and
// neither counts twice.
TEST_F(GateTest, KeysAndAddressesCountApart) {
  key_store keys(redis_);
  auto k = keys.create("biz_1", key_mode::live);
  ASSERT_TRUE(k);
  gate g(*async_, {.limit_per_minute = 2});
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(admit(g, "Bearer " + k->secret, "10.0.0.7", at)->who);
  EXPECT_FALSE(admit(g, "Bearer " + k->secret, "10.0.0.7", at)->allowed());
  auto anonymous = admit(g, "", "10.0.0.7", at);
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->remaining, 1u) << "the key's requests are not the address's";
  const std::string unknown = "Bearer sk_live_" + std::string(32, 'x');
  auto first = admit(g, unknown, "10.0.0.7", at);
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->who);
  EXPECT_EQ(first->remaining, 0u);
  EXPECT_FALSE(admit(g, unknown, "10.0.0.7", at)->allowed());
  const auto ttl =
      redis_->command({"TTL", redis::keys::rate_limit("ip:10.0.0.7", 1800000000 / 60)});
  EXPECT_GT(ttl->integer, 0);
  EXPECT_LE(ttl->integer, 120);
  EXPECT_EQ(redis_->command({"EXISTS", redis::keys::key_rate_limit(key_hash(unknown.substr(7)),
                                                                   1800000000 / 60)})
                ->integer,
            0);
}

// The cached page's path (service.cpp) counts a known key with plain commands: the same
// window's counter as the script's, with its TTL, the same caller, and a key revoked since
// then is no admission (admit() decides).
TEST_F(GateTest, KnownKeyCommandsCountInTheScriptsWindowAndSeeARevocation) {
  key_store keys(redis_);
  auto k = keys.create("biz_1", key_mode::test);
  ASSERT_TRUE(k);
  gate g(*async_, {.limit_per_minute = 3});
  auto counted = [&](std::chrono::system_clock::time_point now) {
    redis::request req;
    req.commands = gate::known_key_commands(key_hash(k->secret), now);
    auto r = redis::run(*redis_, req);
    EXPECT_TRUE(r) << r.error().message;
    return g.admission_from_known(*r, 0, now);
  };
  auto first = counted(at);
  ASSERT_TRUE(first && *first) << "a valid key";
  ASSERT_TRUE((*first)->who);
  EXPECT_EQ((*first)->who->key_id, k->key.id);
  EXPECT_EQ((*first)->who->business_id, "biz_1");
  EXPECT_FALSE((*first)->who->livemode());
  EXPECT_FALSE((*first)->who->portal_session);
  EXPECT_EQ((*first)->remaining, 2u);
  auto by_script = admit(g, "Bearer " + k->secret, "10.0.0.1", at);
  ASSERT_TRUE(by_script);
  EXPECT_EQ(by_script->remaining, 1u) << "one counter for both";
  auto third = counted(at);
  ASSERT_TRUE(third && *third);
  EXPECT_EQ((*third)->remaining, 0u);
  EXPECT_TRUE((*third)->allowed());
  auto over = counted(at);
  ASSERT_TRUE(over && *over);
  EXPECT_FALSE((*over)->allowed());
  EXPECT_EQ((*over)->retry_after, 40);
  const auto ttl = redis_->command(
      {"TTL", redis::keys::key_rate_limit(key_hash(k->secret), 1800000000 / 60)});
  ASSERT_TRUE(ttl);
  EXPECT_GT(ttl->integer, 0);
  EXPECT_LE(ttl->integer, 120);

  ASSERT_TRUE(keys.revoke(k->key.id).value());
  auto revoked = counted(at + 40s);
  ASSERT_TRUE(revoked);
  EXPECT_FALSE(*revoked);
}

TEST(CredentialsTest, ReadsPortalSessionTokens) {
  std::string token = "ps_" + std::string(43, 'a');
  auto c = read_credentials("Bearer " + token, "");
  EXPECT_EQ(c.type, kind::portal_session);
  EXPECT_EQ(c.token, token);
  EXPECT_EQ(read_credentials("Bearer ps_" + std::string(42, 'a'), "").type, kind::malformed);
  EXPECT_EQ(read_credentials("Bearer ps_" + std::string(42, 'a') + "-", "").type,
            kind::malformed);
  EXPECT_EQ(read_credentials("", token).type, kind::malformed) << "Bearer only";
}

TEST_F(GateTest, AdmitsPortalSessionsUntilTheyExpire) {
  const auto now = std::chrono::system_clock::now();
  key_store issuers(redis_);  // a session is made with a live key (it is read again)
  auto key_1 = issuers.create("biz_1", key_mode::test);
  auto key_2 = issuers.create("biz_2", key_mode::live);
  ASSERT_TRUE(key_1 && key_2);
  auto rw_op =
      portal_sessions::create_op("biz_1", key_mode::test, key_1->key.id, false, 900s, now);
  auto rw = redis::run(*redis_, rw_op);
  ASSERT_TRUE(rw) << rw.error().message;
  ASSERT_FALSE(rw->key_revoked);
  auto ro_op = portal_sessions::create_op("biz_2", key_mode::live, key_2->key.id, true, 900s, now);
  auto ro = redis::run(*redis_, ro_op);
  ASSERT_TRUE(ro) << ro.error().message;
  ASSERT_FALSE(ro->key_revoked);
  gate g(*async_, {.limit_per_minute = 10});

  auto a = admit(g, "Bearer " + rw->token, "10.0.0.1", at);
  ASSERT_TRUE(a) << a.error().message;
  ASSERT_TRUE(a->who);
  EXPECT_EQ(a->who->business_id, "biz_1");
  EXPECT_EQ(a->who->key_id, rw->id);
  EXPECT_FALSE(a->who->livemode());
  EXPECT_TRUE(a->who->portal_session);
  EXPECT_FALSE(a->who->read_only);
  auto b = admit(g, "Bearer " + ro->token, "10.0.0.1", at);
  ASSERT_TRUE(b && b->who);
  EXPECT_EQ(b->who->business_id, "biz_2");
  EXPECT_TRUE(b->who->livemode());
  EXPECT_TRUE(b->who->read_only);

  // A business key is not a session; a session token is not looked up as a key.
  key_store keys(redis_);
  auto k = keys.create("biz_1", key_mode::live);
  ASSERT_TRUE(k);
  auto key = admit(g, "Bearer " + k->secret, "10.0.0.1", at);
  ASSERT_TRUE(key && key->who);
  EXPECT_FALSE(key->who->portal_session);
  EXPECT_FALSE(key->who->read_only);

  // Expired (its expiry already past when made): unknown, counted against the address.
  auto old_op =
      portal_sessions::create_op("biz_1", key_mode::live, key_1->key.id, false, 1s, now - 1h);
  auto old = redis::run(*redis_, old_op);
  ASSERT_TRUE(old);
  ASSERT_FALSE(old->key_revoked);  // expired, not removed
  auto gone = admit(g, "Bearer " + old->token, "10.0.0.7", at);
  ASSERT_TRUE(gone);
  EXPECT_FALSE(gone->who);
  EXPECT_EQ(gone->remaining, 9u);
}

TEST_F(GateTest, RedisDownIsATransientError) {
  redis::async_client nowhere(redis::options{.port = 1});
  gate g(nowhere, {});
  auto a = admit(g, "", "10.0.0.1", at);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().kind, error_kind::transient);
  // The 503 that follows still carries the headers: nothing counted, the window's end.
  auto u = g.uncounted(at);
  EXPECT_EQ(u.limit, 600u);
  EXPECT_EQ(u.remaining, 600u);
  EXPECT_EQ(u.reset, 1800000000 + 60);
  EXPECT_TRUE(u.allowed());
}

}  // namespace
}  // namespace tresse::dispatcher::api
