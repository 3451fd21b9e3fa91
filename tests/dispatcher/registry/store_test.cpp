#include "registry/store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "dispatcher/redis_test.hpp"
#include "redis/async_client.hpp"
#include "redis/client.hpp"
#include "redis/keys.hpp"
#include "redis/request.hpp"

namespace tresse::dispatcher::registry {
namespace {

using namespace std::chrono_literals;
namespace keys = redis::keys;

// Runs at most `steps` round trips of `op`, as a writer that dies after them would.
template <class T>
void run_steps(redis::client& c, redis::operation<T>& op, int steps) {
  for (int i = 0; i < steps && !op.outcome; ++i) op.outcome = op.step(op, redis::run(c, op.next));
}

// One redis-server for the suite, emptied before each test.
class RegistryStoreTest : public test_support::redis_test {
 protected:

  store make_store(std::optional<secret_box> box = std::nullopt) {
    store_options o;
    o.encryption = std::move(box);
    o.now = [this] { return now_; };
    return store(redis_, std::move(o));
  }

  static endpoint_spec spec(std::string business = "biz_1") {
    return {.business_id = std::move(business),
            .url = "https://hooks.example.com/tresse",
            .events = {"appointment.*", "client.created"}};
  }

  static secret_box key(char fill) {
    return *secret_box::from_bytes(std::string(secret_box::key_size, fill));
  }

  // 15 rotations of `id` through another store (key 'c') on a thread of their own; the last
  // secret ends up in `last`.
  std::thread rotate_concurrently(const std::string& id, std::string& last) {
    return std::thread([this, id, &last] {
      auto other = make_store(key('c'));
      for (int i = 0; i < 15; ++i) {
        auto r = other.rotate_secret(id, 1h);
        ASSERT_TRUE(r.has_value() && r->has_value());
        last = (*r)->secret;
      }
    });
  }

  clock::time_point now_ = clock::time_point(std::chrono::seconds(1776594720));
};


TEST_F(RegistryStoreTest, CreateReturnsSecretAndGetReadsItBack) {
  auto s = make_store();
  auto created = s.create(spec());
  ASSERT_TRUE(created.has_value()) << created.error().message;
  EXPECT_TRUE(created->id.starts_with("we_"));
  EXPECT_TRUE(created->secret.starts_with("whsec_"));
  EXPECT_EQ(created->created_at, now_);

  auto got = s.get(created->id);
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(got->has_value());
  const endpoint& ep = **got;
  EXPECT_EQ(ep.business_id, "biz_1");
  EXPECT_EQ(ep.url, "https://hooks.example.com/tresse");
  EXPECT_EQ(ep.events, (std::vector<std::string>{"appointment.*", "client.created"}));
  EXPECT_TRUE(ep.livemode);
  EXPECT_TRUE(ep.enabled);
  EXPECT_EQ(ep.secret, created->secret);
  EXPECT_EQ(ep.created_at, now_);
}

TEST_F(RegistryStoreTest, GetUnknownIdIsNullopt) {
  auto s = make_store();
  auto got = s.get("we_nope");
  ASSERT_TRUE(got.has_value());
  EXPECT_FALSE(got->has_value());
}

TEST_F(RegistryStoreTest, CreateRejectsInvalidInput) {
  auto s = make_store();
  auto bad_url = spec();
  bad_url.url = "ftp://example.com";
  auto bad_event = spec();
  bad_event.events = {"appointment.exploded"};
  auto no_events = spec();
  no_events.events = {};
  auto bad_business = spec("biz 1");
  for (const auto& sp : {bad_url, bad_event, no_events, bad_business}) {
    auto r = s.create(sp);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().kind, error_kind::permanent);
  }
  EXPECT_EQ(*s.version(), 0);
}

// The CLI and the API store through here: the delivery client's own parser decides.
TEST_F(RegistryStoreTest, UrlsAreCheckedByTheDeliveryClientsParser) {
  auto s = make_store();
  for (const char* url : {"https://example.com:70000/h", "https://user:pw@example.com/h",
                          "https://exa%6dple.com/h", "https://example.com:0/h", "http:///h"}) {
    auto sp = spec();
    sp.url = url;
    auto r = s.create(sp);
    ASSERT_FALSE(r.has_value()) << url;
    EXPECT_EQ(r.error().kind, error_kind::permanent) << url;
    EXPECT_NE(r.error().message.find("url"), std::string::npos) << r.error().message;
  }
  EXPECT_EQ(*s.version(), 0);
  auto upper = spec();
  upper.url = "HTTPS://EXAMPLE.COM/x";
  EXPECT_TRUE(s.create(upper).has_value()) << "scheme and host are case-insensitive";
  auto ep = s.create(spec());
  ASSERT_TRUE(ep.has_value());
  auto bad = s.update(ep->id, {.url = "https://example.com:99999/h"});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().kind, error_kind::permanent);
}

TEST_F(RegistryStoreTest, EveryChangeBumpsTheVersion) {
  auto s = make_store();
  EXPECT_EQ(*s.version(), 0);
  auto ep = s.create(spec());
  ASSERT_TRUE(ep.has_value());
  auto v1 = *s.version();
  EXPECT_GT(v1, 0);
  ASSERT_TRUE(s.update(ep->id, {.description = "new"}).has_value());
  auto v2 = *s.version();
  EXPECT_GT(v2, v1);
  ASSERT_TRUE(s.rotate_secret(ep->id).has_value());
  auto v3 = *s.version();
  EXPECT_GT(v3, v2);
  ASSERT_TRUE(s.disable(ep->id, "410 Gone").has_value());
  auto v4 = *s.version();
  EXPECT_GT(v4, v3);
  ASSERT_TRUE(*s.remove(ep->id));
  EXPECT_GT(*s.version(), v4);
}

TEST_F(RegistryStoreTest, UpdateChangesOnlyGivenFields) {
  auto s = make_store();
  auto ep = s.create(spec());
  now_ += 10s;
  auto updated = s.update(
      ep->id, {.url = "https://other.example.com/h", .events = std::vector<std::string>{"*"}});
  ASSERT_TRUE(updated.has_value()) << updated.error().message;
  ASSERT_TRUE(updated->has_value());
  EXPECT_EQ((*updated)->url, "https://other.example.com/h");
  EXPECT_EQ((*updated)->events, std::vector<std::string>{"*"});
  EXPECT_EQ((*updated)->secret, ep->secret);
  EXPECT_EQ((*updated)->created_at, ep->created_at);
  EXPECT_EQ((*updated)->updated_at, now_);

  auto bad = s.update(ep->id, {.url = "not a url"});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ((*s.get(ep->id))->url, "https://other.example.com/h");
  EXPECT_FALSE(s.update("we_missing", {.description = "x"})->has_value());
}

TEST_F(RegistryStoreTest, DisableRecordsReasonAndEnableClearsIt) {
  auto s = make_store();
  auto ep = s.create(spec());
  ASSERT_TRUE(*s.disable(ep->id, "410 Gone"));
  auto got = **s.get(ep->id);
  EXPECT_FALSE(got.enabled);
  EXPECT_EQ(got.disabled_reason, "410 Gone");
  auto enabled = s.update(ep->id, {.enabled = true});
  EXPECT_TRUE((*enabled)->enabled);
  EXPECT_TRUE((*enabled)->disabled_reason.empty());
  EXPECT_FALSE(*s.disable("we_missing", "x"));
}

TEST_F(RegistryStoreTest, RemoveDeletesRecordIndexAndCounters) {
  auto s = make_store();
  auto ep = s.create(spec());
  ASSERT_TRUE(s.record_failure(ep->id).has_value());
  ASSERT_TRUE(*s.remove(ep->id));
  EXPECT_FALSE(s.get(ep->id)->has_value());
  EXPECT_TRUE(s.list("biz_1")->data.empty());
  EXPECT_TRUE(s.list_all()->empty());
  EXPECT_EQ(redis_->command({"KEYS", "tresse:endpoint:*"})->elements.size(), 0u);
  EXPECT_FALSE(*s.remove(ep->id));
}

TEST_F(RegistryStoreTest, EncryptsSecretsAtRest) {
  auto s = make_store(key('k'));
  auto ep = s.create(spec());
  ASSERT_TRUE(ep.has_value()) << ep.error().message;
  auto raw = redis_->command({"GET", keys::endpoint(ep->id)});
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(raw->str.find(ep->secret), std::string::npos);
  // Nor its base64 body without the prefix.
  EXPECT_EQ(raw->str.find(ep->secret.substr(6)), std::string::npos);
  EXPECT_NE(raw->str.find("secrets_sealed"), std::string::npos);
  EXPECT_EQ((**s.get(ep->id)).secret, ep->secret);

  // A fresh nonce per write: rewriting the same secrets gives another ciphertext.
  ASSERT_TRUE(s.update(ep->id, {.description = "again"}).has_value());
  auto raw2 = redis_->command({"GET", keys::endpoint(ep->id)});
  auto sealed = [](const std::string& json) {
    return nlohmann::json::parse(json)["secrets_sealed"].get<std::string>();
  };
  EXPECT_NE(sealed(raw->str), sealed(raw2->str));
}

TEST_F(RegistryStoreTest, KeepsDeliveryOptionsAndSealsTheAuth) {
  auto s = make_store(key('k'));
  auto sp = spec();
  sp.headers = {{"X-Tenant", "t1"}};
  sp.auth = {.type = endpoint_auth::kind::basic, .username = "clerk-7", .password = "pw-0123456789"};
  sp.timeout_seconds = 9;
  auto ep = s.create(sp);
  ASSERT_TRUE(ep.has_value()) << ep.error().message;
  auto raw = redis_->command({"GET", keys::endpoint(ep->id)});
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(raw->str.find("pw-0123456789"), std::string::npos) << raw->str;
  EXPECT_EQ(raw->str.find("clerk-7"), std::string::npos) << "the user name is sealed too";
  auto got = **s.get(ep->id);
  EXPECT_EQ(got.headers, sp.headers);
  EXPECT_EQ(got.auth, sp.auth);
  EXPECT_EQ(got.timeout_seconds, 9u);

  // Only what is given changes; an empty auth removes it.
  auto updated = s.update(ep->id, {.auth = endpoint_auth{}});
  ASSERT_TRUE(updated.has_value() && updated->has_value());
  EXPECT_EQ((*updated)->auth.type, endpoint_auth::kind::none);
  EXPECT_EQ((*updated)->headers, sp.headers);
  EXPECT_EQ((*updated)->timeout_seconds, 9u);

  // The store checks them whoever calls it (the API, the CLI).
  auto bad = spec();
  bad.headers = {{"Webhook-Signature", "v1,forged"}};
  EXPECT_FALSE(s.create(bad).has_value());
  EXPECT_FALSE(s.update(ep->id, {.timeout_seconds = 31}).has_value());
  EXPECT_FALSE(s.update(ep->id, {.auth = endpoint_auth{.type = endpoint_auth::kind::bearer}})
                   .has_value());
}

TEST_F(RegistryStoreTest, WrongEncryptionKeyFailsCleanly) {
  auto writer = make_store(key('a'));
  auto ep = writer.create(spec());
  ASSERT_TRUE(ep.has_value());

  auto wrong = make_store(key('b'));
  auto got = wrong.get(ep->id);
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().kind, error_kind::permanent);
  EXPECT_NE(got.error().message.find("decrypt"), std::string::npos);
  EXPECT_EQ(got.error().message.find(ep->secret), std::string::npos);
  // The cache's bulk load skips what it cannot read instead of failing everything.
  auto all = wrong.list_all();
  ASSERT_TRUE(all.has_value());
  EXPECT_TRUE(all->empty());

  auto keyless = make_store();
  auto no_key = keyless.get(ep->id);
  ASSERT_FALSE(no_key.has_value());
  EXPECT_EQ(no_key.error().kind, error_kind::permanent);
}

TEST_F(RegistryStoreTest, EncryptionKeyParsesHexAndBase64Only) {
  EXPECT_TRUE(secret_box::from_text(std::string(64, 'a')).has_value());
  EXPECT_TRUE(secret_box::from_text(secret_box::generate_key_text()).has_value());
  EXPECT_FALSE(secret_box::from_text("short").has_value());
  EXPECT_FALSE(secret_box::from_text(std::string(64, 'z')).has_value());
}

TEST_F(RegistryStoreTest, RotationKeepsPreviousSecretLiveUntilItExpires) {
  auto s = make_store(key('r'));
  auto ep = s.create(spec());
  auto rotated = s.rotate_secret(ep->id, 24h);
  ASSERT_TRUE(rotated.has_value());
  ASSERT_TRUE(rotated->has_value());
  const endpoint& r = **rotated;
  EXPECT_NE(r.secret, ep->secret);
  ASSERT_EQ(r.previous_secrets.size(), 1u);
  EXPECT_EQ(r.previous_secrets[0].secret, ep->secret);
  EXPECT_EQ(r.previous_secrets[0].expires_at, now_ + 24h);

  auto stored = **s.get(ep->id);
  EXPECT_EQ(stored.live_secrets(now_ + 1h), (std::vector<std::string>{r.secret, ep->secret}));
  EXPECT_EQ(stored.live_secrets(now_ + 24h), std::vector<std::string>{r.secret});

  // Rotating after the old one expired drops it.
  now_ += 25h;
  auto again = **s.rotate_secret(ep->id, 1h);
  ASSERT_EQ(again.previous_secrets.size(), 1u);
  EXPECT_EQ(again.previous_secrets[0].secret, r.secret);
}

TEST_F(RegistryStoreTest, ListPaginatesInCreationOrder) {
  auto s = make_store();
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    now_ += 1ms;
    ids.push_back(s.create(spec())->id);
  }
  ASSERT_TRUE(s.create(spec("biz_other")).has_value());
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto page = s.list("biz_1", {.limit = 3, .cursor = cursor});
    ASSERT_TRUE(page.has_value());
    for (const auto& ep : page->data) {
      seen.push_back(ep.id);
      EXPECT_EQ(ep.business_id, "biz_1");
    }
    cursor = page->next_cursor;
    EXPECT_EQ(page->has_more, !cursor.empty());
    ++pages;
  } while (!cursor.empty());
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, ids);
}

TEST_F(RegistryStoreTest, PaginationIsStableUnderConcurrentDeletes) {
  auto s = make_store();
  std::vector<std::string> ids;
  for (int i = 0; i < 60; ++i) {
    now_ += 1ms;
    ids.push_back(s.create(spec())->id);
  }
  // Another client deletes every third endpoint while we page through.
  std::set<std::string> deleted;
  for (std::size_t i = 0; i < ids.size(); i += 3) deleted.insert(ids[i]);
  std::thread deleter([&] {
    auto other = make_store();
    for (const auto& id : deleted) ASSERT_TRUE(other.remove(id).has_value());
  });
  std::vector<std::string> seen;
  std::string cursor;
  do {
    auto page = s.list("biz_1", {.limit = 4, .cursor = cursor});
    ASSERT_TRUE(page.has_value());
    for (const auto& ep : page->data) seen.push_back(ep.id);
    cursor = page->next_cursor;
  } while (!cursor.empty());
  deleter.join();

  // Strictly ascending (no duplicates, nothing out of order), and every endpoint that was
  // never deleted was seen.
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), seen.size());
  for (const auto& id : ids) {
    if (!deleted.contains(id)) {
      EXPECT_NE(std::find(seen.begin(), seen.end(), id), seen.end()) << id;
    }
  }
}

TEST_F(RegistryStoreTest, ConcurrentWritersDoNotLoseChanges) {
  auto s = make_store(key('c'));
  auto ep = s.create(spec());
  std::string last_secret;
  std::thread rotator = rotate_concurrently(ep->id, last_secret);
  for (int i = 0; i < 15; ++i) {
    ASSERT_TRUE(s.update(ep->id, {.description = "d" + std::to_string(i)}).has_value());
  }
  rotator.join();
  auto final_state = **s.get(ep->id);
  EXPECT_EQ(final_state.description, "d14");
  EXPECT_EQ(final_state.secret, last_secret);
}

template <class T>
boost::asio::awaitable<void> drive(redis::async_client& c, redis::operation<T>& op,
                                   std::optional<result<T>>& out) {
  out = co_await redis::run(c, op);
}

// Runs one operation on the non-blocking client to completion, as the Management API does.
template <class T>
result<T> run_async(redis::async_client& c, redis::operation<T> op) {
  boost::asio::io_context io;
  std::optional<result<T>> out;
  boost::asio::co_spawn(io, drive(c, op, out), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  io.run();
  return std::move(*out);
}

TEST_F(RegistryStoreTest, OperationsRunOnTheNonBlockingClientToo) {
  auto s = make_store(key('c'));
  redis::async_client async(redis_->config());
  auto ep = run_async(async, s.create_op(spec()));
  ASSERT_TRUE(ep.has_value()) << ep.error().message;
  auto seen = s.get(ep->id);
  ASSERT_TRUE(seen.has_value() && seen->has_value());
  EXPECT_EQ((*seen)->secret, ep->secret);
  EXPECT_FALSE(run_async(async, s.create_op(spec("bad id"))).has_value());

  // Compare-and-set retries: blocking rotations race the non-blocking updates.
  std::string last_secret;
  std::thread rotator = rotate_concurrently(ep->id, last_secret);
  for (int i = 0; i < 15; ++i) {
    auto r = run_async(async, s.update_op(ep->id, {.description = "d" + std::to_string(i)}));
    ASSERT_TRUE(r.has_value() && r->has_value()) << (r ? "gone" : r.error().message);
  }
  rotator.join();
  ASSERT_TRUE(s.record_failure(ep->id).has_value());
  auto got = run_async(async, s.get_op(ep->id));
  ASSERT_TRUE(got.has_value() && got->has_value());
  EXPECT_EQ((*got)->description, "d14");
  EXPECT_EQ((*got)->secret, last_secret);
  EXPECT_EQ((*got)->failure_count, 1);
  EXPECT_EQ(run_async(async, s.version_op()).value(), s.version().value());

  EXPECT_TRUE(run_async(async, s.remove_op(ep->id)).value());
  EXPECT_FALSE(run_async(async, s.remove_op(ep->id)).value());
  EXPECT_FALSE(run_async(async, s.get_op(ep->id)).value().has_value());
  EXPECT_FALSE(run_async(async, s.update_op(ep->id, {.enabled = false})).value().has_value());
}

TEST_F(RegistryStoreTest, CountsConsecutiveFailuresUntilSuccess) {
  auto s = make_store();
  auto ep = s.create(spec());
  EXPECT_EQ(*s.record_failure(ep->id), 1);
  EXPECT_EQ(*s.record_failure(ep->id), 2);
  ASSERT_TRUE(s.record_success(ep->id).has_value());
  EXPECT_EQ(*s.record_failure(ep->id), 1);
  auto got = **s.get(ep->id);
  EXPECT_EQ(got.failure_count, 3);
  EXPECT_EQ(got.consecutive_failures, 1);
  // Counters never appear for unknown endpoints.
  EXPECT_EQ(*s.record_failure("we_gone"), 0);
  ASSERT_TRUE(s.record_success("we_gone").has_value());
  EXPECT_TRUE(redis_->command({"EXISTS", keys::endpoint_stats("we_gone")})->integer == 0);
}

TEST_F(RegistryStoreTest, RemembersWhenTheFailureStreakBegan) {
  auto s = make_store();
  auto ep = s.create(spec());
  const auto start = now_;
  auto first = s.record_failure_streak(ep->id);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->consecutive_failures, 1);
  EXPECT_EQ(first->failing_since, std::chrono::time_point_cast<std::chrono::milliseconds>(start));
  now_ += std::chrono::hours(30);
  auto later = s.record_failure_streak(ep->id);
  EXPECT_EQ(later->consecutive_failures, 2);
  EXPECT_EQ(later->failing_since, first->failing_since);  // still the same streak
  ASSERT_TRUE(s.record_success(ep->id));
  auto fresh = s.record_failure_streak(ep->id);
  EXPECT_EQ(fresh->consecutive_failures, 1);
  EXPECT_EQ(fresh->failing_since, std::chrono::time_point_cast<std::chrono::milliseconds>(now_));
  EXPECT_FALSE(s.record_failure_streak("we_gone")->failing_since);
}

TEST_F(RegistryStoreTest, CountsConsecutiveDeadLettersUntilSuccess) {
  auto s = make_store();
  auto ep = s.create(spec());
  EXPECT_EQ(*s.record_dead_letter(ep->id), 1);
  EXPECT_EQ(*s.record_dead_letter(ep->id), 2);
  ASSERT_TRUE(s.record_success(ep->id));
  EXPECT_EQ(*s.record_dead_letter(ep->id), 1);
  EXPECT_EQ(*s.record_dead_letter("we_gone"), 0);
  EXPECT_EQ(redis_->command({"EXISTS", keys::endpoint_stats("we_gone")})->integer, 0);
}

TEST_F(RegistryStoreTest, CountsEveryDeadLetterAndOnlyExhaustedOnesInTheStreak) {
  auto s = make_store();
  auto ep = s.create(spec());
  EXPECT_EQ(*s.record_dead_letter(ep->id, true), 1);
  EXPECT_EQ(*s.record_dead_letter(ep->id, false), 1);  // e.g. endpoint_disabled
  EXPECT_EQ(*s.record_dead_letter(ep->id, true), 2);
  EXPECT_EQ((**s.get(ep->id)).dead_lettered, 3);
}

TEST_F(RegistryStoreTest, DisableIfEnabledSaysWhoDisabledIt) {
  auto s = make_store();
  auto ep = s.create(spec());
  EXPECT_EQ(s.disable_if_enabled(ep->id, "http_410"), true);
  EXPECT_EQ(s.disable_if_enabled(ep->id, "failing_continuously"), false);
  EXPECT_EQ((**s.get(ep->id)).disabled_reason, "http_410");  // the first reason stays
  EXPECT_EQ(s.disable_if_enabled("we_gone", "x"), false);
  // Concurrent callers: exactly one wins.
  auto other = s.create(spec());
  std::atomic<int> winners{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      auto mine = make_store();
      if (auto r = mine.disable_if_enabled(other->id, "disable_requested"); r && *r) ++winners;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
}

// Each write is several round trips (one slot each); a writer that dies between any two leaves
// no index naming a missing record, and finishing (or repeating) the write repairs the rest.
TEST_F(RegistryStoreTest, AWriterDyingBetweenStepsLeavesNoIndexNamingAMissingRecord) {
  auto s = make_store();
  auto indexed_records_exist = [&](const std::string& business) {
    for (const std::string index : {std::string(keys::endpoints_all),
                                    keys::business_endpoints(business)}) {
      const auto ids = redis_->command({"ZRANGE", index, "0", "-1"});
      for (const auto& id : ids->elements) {
        if (redis_->command({"EXISTS", keys::endpoint(id.str)})->integer != 1) return false;
      }
    }
    return true;
  };
  const auto v0 = *s.version();
  for (int steps = 0; steps <= 3; ++steps) {
    auto create = s.create_op(spec());
    run_steps(*redis_, create, steps);
    EXPECT_TRUE(indexed_records_exist("biz_1")) << "create, " << steps << " steps";
    EXPECT_EQ(create.outcome.has_value(), steps == 3);
    // The version last: a cache that sees it changed finds the record and the indexes.
    EXPECT_EQ(*s.version() != v0, steps == 3) << steps;
  }
  // Listed once indexed (2 steps; the cache then catches up at its full refresh).
  ASSERT_EQ(s.list("biz_1")->data.size(), 2u);
  const std::string id = s.list("biz_1")->data.front().id;
  EXPECT_EQ(s.list_all()->size(), 2u);

  for (int steps = 1; steps <= 3; ++steps) {
    auto remove = s.remove_op(id);
    run_steps(*redis_, remove, steps);
    EXPECT_TRUE(indexed_records_exist("biz_1")) << "remove, " << steps << " steps";
    // Unindexed at once: nothing lists it while the rest is undone.
    if (steps >= 2) EXPECT_EQ(s.list("biz_1")->data.size(), 1u);
  }
  EXPECT_FALSE(s.get(id)->has_value());
}

// An index entry may outlive its record (a remove in progress) or, after an id collision,
// name another business's endpoint: a page shows neither.
TEST_F(RegistryStoreTest, ListSkipsIndexEntriesWithoutARecordOfThisBusiness) {
  auto s = make_store();
  auto mine = s.create(spec());
  auto theirs = s.create(spec("biz_2"));
  ASSERT_TRUE(mine && theirs);
  ASSERT_TRUE(redis_->command({"ZADD", keys::business_endpoints("biz_1"), "0", "we_0gone"}));
  ASSERT_TRUE(redis_->command({"ZADD", keys::business_endpoints("biz_1"), "0", theirs->id}));
  ASSERT_TRUE(redis_->command({"ZADD", std::string(keys::endpoints_all), "0", "we_0gone"}));
  auto page = s.list("biz_1");
  ASSERT_TRUE(page.has_value());
  ASSERT_EQ(page->data.size(), 1u);
  EXPECT_EQ(page->data[0].id, mine->id);
  EXPECT_EQ(s.list_all()->size(), 2u);
}

// The record and its counters share the endpoint's hash tag (the failure scripts read one and
// write the other), the business index its business's.
TEST_F(RegistryStoreTest, KeepsAnEndpointsKeysUnderItsTag) {
  auto s = make_store();
  auto ep = s.create(spec());
  ASSERT_TRUE(s.record_failure(ep->id).has_value());
  const std::string tag = "{" + ep->id + "}";
  EXPECT_EQ(redis_->command({"EXISTS", "tresse:endpoint:" + tag})->integer, 1);
  EXPECT_EQ(redis_->command({"HGET", "tresse:endpoint:" + tag + ":stats", "failure_count"})->str,
            "1");
  EXPECT_EQ(redis_->command({"ZCARD", "tresse:business:{biz_1}:endpoints"})->integer, 1);
}

TEST_F(RegistryStoreTest, IdsSortByCreationTime) {
  auto a = new_endpoint_id(clock::time_point(std::chrono::milliseconds(1000)));
  auto b = new_endpoint_id(clock::time_point(std::chrono::milliseconds(1001)));
  auto c = new_endpoint_id(clock::time_point(std::chrono::milliseconds(999999999999)));
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_EQ(a.size(), 3u + 8u + 14u);
  EXPECT_NE(new_endpoint_id(), new_endpoint_id());
}

}  // namespace
}  // namespace tresse::dispatcher::registry
