#include "api/portal_sessions.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "dispatcher/redis_test.hpp"
#include "redis/client.hpp"
#include "tresse/common/event.hpp"

namespace tresse::dispatcher::api::portal_sessions {
namespace {

using namespace std::chrono_literals;
using verb = boost::beast::http::verb;

TEST(PortalSessionsTest, TokensAreLongRandomAndWellFormed) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    auto op = create_op("biz_1", key_mode::live, "key_1", false, 60s, clock::now());
    // Built before any round trip: the token is in the outcome the last step returns.
    // Two transactions (the record, the key's session set): MULTI, two QUEUED, EXEC each; then
    // the key read again (its id to its hash, its revoked flag: unset).
    const redis::reply queued{.type = redis::reply::kind::status, .str = "QUEUED"};
    const redis::reply ok{.type = redis::reply::kind::status, .str = "OK"};
    const redis::reply exec{.type = redis::reply::kind::array};
    const redis::reply hash{.type = redis::reply::kind::string, .str = std::string(64, 'a')};
    const redis::reply unset{.type = redis::reply::kind::nil};
    auto s = op.step(op, std::vector<redis::reply>{ok, queued, queued, exec, ok, queued, queued, exec});
    ASSERT_FALSE(s) << "the key is read again after the EXECs";
    s = op.step(op, std::vector<redis::reply>{hash});
    ASSERT_FALSE(s);
    s = op.step(op, std::vector<redis::reply>{unset});
    ASSERT_TRUE(s && *s) << "a key still live gives the session";
    EXPECT_FALSE((*s)->key_revoked);
    EXPECT_TRUE(looks_like_token((*s)->token)) << (*s)->token;
    EXPECT_EQ((*s)->token.size(), 46u);
    EXPECT_TRUE((*s)->id.starts_with("psn_"));
    seen.insert((*s)->token);
  }
  EXPECT_EQ(seen.size(), 50u);
  EXPECT_FALSE(looks_like_token("sk_live_" + std::string(32, 'a')));
  EXPECT_FALSE(looks_like_token("ps_" + std::string(44, 'a')));
}

TEST(PortalSessionsTest, RefusesSessionsCreatingSessionsAndReadOnlyWrites) {
  EXPECT_TRUE(refusal(false, verb::post, "portal_sessions"));
  EXPECT_TRUE(refusal(true, verb::post, "portal_sessions"));
  EXPECT_FALSE(refusal(false, verb::get, "portal_sessions")) << "GET current";
  EXPECT_FALSE(refusal(false, verb::post, "webhooks"));
  EXPECT_FALSE(refusal(false, verb::delete_, "webhooks"));
  for (auto m : {verb::post, verb::patch, verb::delete_, verb::put}) {
    EXPECT_TRUE(refusal(true, m, "webhooks"));
  }
  EXPECT_FALSE(refusal(true, verb::get, "webhooks"));
  EXPECT_FALSE(refusal(true, verb::head, "replays"));
}

TEST(PortalSessionsTest, ConsoleUrlCarriesTheTokenInTheFragment) {
  EXPECT_EQ(console_url("127.0.0.1:8080", "", "ps_x"), "http://127.0.0.1:8080/console/#session=ps_x");
  EXPECT_EQ(console_url("dash.example.com", "https", "ps_x"),
            "https://dash.example.com/console/#session=ps_x");
  EXPECT_TRUE(valid_host("[::1]:8080"));
  EXPECT_FALSE(valid_host(""));
  EXPECT_FALSE(valid_host("evil.com/x?"));
  EXPECT_FALSE(valid_host("a@b"));
  EXPECT_FALSE(valid_host(std::string(256, 'a')));
}

class PortalSessionStoreTest : public test_support::redis_test {};

TEST_F(PortalSessionStoreTest, KeepsOnlyTheDigestAndExpiresWithTheSession) {
  const auto now = clock::now();
  key_store api_keys(redis_);
  auto k = api_keys.create("biz_1", key_mode::test);
  ASSERT_TRUE(k);
  auto names_now = [&] {
    auto all = redis_->command({"KEYS", "*"});
    std::set<std::string> names;
    if (all) {
      for (const auto& e : all->elements) names.insert(e.str);
    }
    return names;
  };
  const std::set<std::string> before = names_now();  // the API key's own
  auto op = create_op("biz_1", key_mode::test, k->key.id, true, 900s, now);
  auto s = redis::run(*redis_, op);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_FALSE(s->key_revoked);
  std::set<std::string> added;
  for (const auto& n : names_now()) {
    if (!before.contains(n)) added.insert(n);
  }
  EXPECT_EQ(added, (std::set<std::string>{record_key(key_hash(s->token)), of_key(k->key.id)}));
  auto dump = redis_->command({"HGETALL", record_key(key_hash(s->token))});
  ASSERT_TRUE(dump);
  for (const auto& e : dump->elements) {
    EXPECT_EQ(e.str.find(s->token.substr(3)), std::string::npos) << "the token is never stored";
  }
  auto ttl = redis_->command({"TTL", record_key(key_hash(s->token))});
  ASSERT_TRUE(ttl);
  EXPECT_GT(ttl->integer, 890);
  EXPECT_LE(ttl->integer, 900);

  auto get = get_op(s->token);
  auto got = redis::run(*redis_, get);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((**got)["id"], s->id);
  EXPECT_EQ((**got)["read_only"], true);
  EXPECT_EQ((**got)["livemode"], false);
  EXPECT_EQ((**got)["expires_at"], tresse::events::format_rfc3339(s->expires_at));

  auto expired_op = create_op("biz_1", key_mode::live, k->key.id, false, 1s, now - 1h);
  auto expired = redis::run(*redis_, expired_op);
  ASSERT_TRUE(expired);
  auto gone = get_op(expired->token);
  auto none = redis::run(*redis_, gone);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
}

TEST_F(PortalSessionStoreTest, RevokingTheKeyEndsItsSessions) {
  key_store keys(redis_);
  auto k = keys.create("biz_1", key_mode::live);
  auto other = keys.create("biz_1", key_mode::live);
  ASSERT_TRUE(k && other);
  auto one_op = create_op("biz_1", key_mode::live, k->key.id, false, 900s, clock::now());
  auto two_op = create_op("biz_1", key_mode::live, k->key.id, true, 60s, clock::now());
  auto kept_op = create_op("biz_1", key_mode::live, other->key.id, false, 900s, clock::now());
  auto one = redis::run(*redis_, one_op);
  auto two = redis::run(*redis_, two_op);
  auto kept = redis::run(*redis_, kept_op);
  ASSERT_TRUE(one && two && kept);
  auto set_ttl = redis_->command({"TTL", of_key(k->key.id)});
  ASSERT_TRUE(set_ttl);
  EXPECT_GT(set_ttl->integer, 86000) << "the set outlives its sessions";

  ASSERT_TRUE(keys.revoke(k->key.id).value());
  auto exists = [&](const created& s) {
    auto r = redis_->command({"EXISTS", record_key(key_hash(s.token))});
    return r && r->integer == 1;
  };
  EXPECT_FALSE(exists(*one));
  EXPECT_FALSE(exists(*two));
  EXPECT_TRUE(exists(*kept)) << "another key's session stays";
  auto set = redis_->command({"EXISTS", of_key(k->key.id)});
  ASSERT_TRUE(set);
  EXPECT_EQ(set->integer, 0);
  auto again = end_sessions_of(*redis_, k->key.id);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 0u) << "ending twice is fine";
}

// The revoke lands between the gate's admission of the request and the session's creation:
// the session must not outlive the key (the revoke's SMEMBERS ran before the session joined the
// set, so only the creation can see it).
TEST_F(PortalSessionStoreTest, AKeyRevokedWhileItsSessionIsMadeLeavesNoSession) {
  key_store api_keys(redis_);
  auto k = api_keys.create("biz_1", key_mode::live);
  ASSERT_TRUE(k);
  ASSERT_TRUE(api_keys.revoke(k->key.id).value());  // marked, its (empty) set ended
  auto op = create_op("biz_1", key_mode::live, k->key.id, false, 900s, clock::now());
  auto s = redis::run(*redis_, op);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_TRUE(s->key_revoked);
  auto record = redis_->command({"EXISTS", record_key(key_hash(s->token))});
  ASSERT_TRUE(record);
  EXPECT_EQ(record->integer, 0) << "the session was removed again";
  auto members = redis_->command({"SCARD", of_key(k->key.id)});
  ASSERT_TRUE(members);
  EXPECT_EQ(members->integer, 0);
  auto get = get_op(s->token);
  auto got = redis::run(*redis_, get);
  ASSERT_TRUE(got);
  EXPECT_FALSE(*got) << "the token opens nothing";

  // A key that is gone altogether (deleted, not only revoked) is the same.
  auto none_op = create_op("biz_1", key_mode::live, "key_never_made", false, 900s, clock::now());
  auto none = redis::run(*redis_, none_op);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->key_revoked);
}

TEST_F(PortalSessionStoreTest, RedisDownIsATransientError) {
  redis::client nowhere(redis::options{.port = 1});
  auto op = create_op("biz_1", key_mode::live, "key_1", false, 60s, clock::now());
  auto s = redis::run(nowhere, op);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, error_kind::transient);
}

}  // namespace
}  // namespace tresse::dispatcher::api::portal_sessions
