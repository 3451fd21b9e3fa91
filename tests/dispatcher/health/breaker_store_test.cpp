#include "health/breaker_store.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <thread>

#include "redis/client.hpp"
#include "dispatcher/redis_test.hpp"

namespace tresse::dispatcher::health {
namespace {

using namespace std::chrono_literals;

class BreakerStoreTest : public test_support::redis_test {
 protected:
  wall_time now_ =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
};

TEST_F(BreakerStoreTest, SharesOpenCircuitsKeepingTheLaterUntil) {
  breaker_store a(redis_), b(redis_);
  ASSERT_TRUE(a.publish_open("we_1", now_ + 30s));
  ASSERT_TRUE(b.publish_open("we_1", now_ + 10s));  // an older view loses
  ASSERT_TRUE(b.publish_open("we_2", now_ + 5s));
  auto open = a.open_circuits();
  ASSERT_TRUE(open);
  ASSERT_EQ(open->size(), 2u);
  EXPECT_EQ((*open)[1].endpoint_id, "we_1");  // by open_until
  EXPECT_EQ((*open)[1].open_until, now_ + 30s);
  ASSERT_TRUE(b.publish_closed("we_1"));
  open = a.open_circuits();
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ((*open)[0].endpoint_id, "we_2");
}

TEST_F(BreakerStoreTest, OneProbeLeaseAtATime) {
  breaker_store a(redis_), b(redis_);
  auto won = [&](breaker_store& s, const char* id, const char* owner) {
    auto r = s.try_probe_lease(id, owner, 10s, now_);
    return r && r->won;
  };
  EXPECT_TRUE(won(a, "we_1", "a"));
  EXPECT_FALSE(won(b, "we_1", "b"));
  EXPECT_TRUE(won(b, "we_2", "b"));                                        // per endpoint
  ASSERT_TRUE(a.publish_open("we_1", now_ - 1s, /*release_probe=*/true));  // half-open again
  EXPECT_TRUE(won(b, "we_1", "b"));
  ASSERT_TRUE(a.publish_closed("we_1"));
  EXPECT_TRUE(won(a, "we_1", "a"));  // closing dropped b's lease
}

TEST_F(BreakerStoreTest, NoLeaseWhileTheSharedCircuitIsStillOpen) {
  breaker_store a(redis_), b(redis_);
  // a's probe failed and reopened the circuit; b, not synced yet, believes it half-open.
  ASSERT_TRUE(a.publish_open("we_1", now_ + 5s, /*release_probe=*/true));
  auto r = b.try_probe_lease("we_1", "b", 10s, now_);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->won);
  EXPECT_EQ(r->open_until, now_ + 5s);
}

TEST_F(BreakerStoreTest, ProbeLeaseExpires) {
  breaker_store a(redis_);
  EXPECT_TRUE(a.try_probe_lease("we_1", "a", 50ms, now_)->won);
  EXPECT_FALSE(a.try_probe_lease("we_1", "b", 50ms, now_)->won);
  std::this_thread::sleep_for(120ms);
  EXPECT_TRUE(a.try_probe_lease("we_1", "b", 50ms, now_)->won);
}

TEST_F(BreakerStoreTest, RedisDownIsTransient) {
  auto gone = std::make_shared<redis::client>(redis::options{.port = 1});
  breaker_store s(gone);
  auto r = s.open_circuits();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, error_kind::transient);
}

}  // namespace
}  // namespace tresse::dispatcher::health
