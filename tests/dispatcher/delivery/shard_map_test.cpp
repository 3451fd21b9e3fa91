#include "delivery/shard_map.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <thread>
#include <vector>

namespace tresse::dispatcher {
namespace {

std::vector<std::size_t> per_shard(shard_map& m, std::size_t shards, int endpoints,
                                   const std::string& prefix = "ep_") {
  std::vector<std::size_t> n(shards, 0);
  for (int i = 0; i < endpoints; ++i) ++n[m.of(prefix + std::to_string(i))];
  return n;
}

TEST(ShardMapTest, AFewEndpointsSplitEvenly) {
  // A hash leaves 8 endpoints over 2 shards at 6/2 or worse 29 % of the time.
  shard_map m(2);
  EXPECT_EQ(per_shard(m, 2, 8), (std::vector<std::size_t>{4, 4}));
  shard_map three(3);
  EXPECT_EQ(per_shard(three, 3, 8), (std::vector<std::size_t>{3, 3, 2}));
}

TEST(ShardMapTest, AnEndpointKeepsItsShard) {
  shard_map m(4);
  std::vector<std::size_t> first;
  for (int i = 0; i < 20; ++i) first.push_back(m.of("ep_" + std::to_string(i)));
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 20; ++i) EXPECT_EQ(m.of("ep_" + std::to_string(i)), first[i]) << i;
  }
}

TEST(ShardMapTest, AForgottenEndpointFreesItsPlace) {
  shard_map m(2);
  const std::size_t a = m.of("a");
  const std::size_t b = m.of("b");
  ASSERT_NE(a, b);
  m.forget("a");
  m.forget("never-seen");  // nothing to do
  // a's shard owns none now: the next new endpoint goes there; b stays.
  EXPECT_EQ(m.of("c"), a);
  EXPECT_EQ(m.of("b"), b);
}

TEST(ShardMapTest, OneShardOwnsEverything) {
  shard_map m(1);
  EXPECT_EQ(m.of("a"), 0U);
  EXPECT_EQ(m.of("b"), 0U);
  shard_map none(0);  // treated as one
  EXPECT_EQ(none.of("a"), 0U);
}

TEST(ShardMapTest, ThreadsAskingAtOnceAgreeAndStayBalanced) {
  shard_map m(2);
  constexpr int endpoints = 1000;
  std::array<std::vector<std::size_t>, 4> seen;
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < seen.size(); ++t) {
    seen[t].resize(endpoints);
    threads.emplace_back([&, t] {
      for (int i = 0; i < endpoints; ++i) {
        // Each thread walks the ids in its own order, so first sightings race.
        const int id = (i * 7 + static_cast<int>(t) * 250) % endpoints;
        seen[t][id] = m.of("ep_" + std::to_string(id));
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<std::size_t> count(2, 0);
  for (int i = 0; i < endpoints; ++i) {
    for (std::size_t t = 1; t < seen.size(); ++t) ASSERT_EQ(seen[t][i], seen[0][i]) << i;
    ++count[seen[0][i]];
  }
  EXPECT_EQ(count[0], 500U);
  EXPECT_EQ(count[1], 500U);
}

}  // namespace
}  // namespace tresse::dispatcher
