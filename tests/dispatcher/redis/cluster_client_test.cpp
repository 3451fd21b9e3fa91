// redis::cluster_client against a real 3-primary Redis Cluster (redis-server
// --cluster-enabled, joined with `redis-cli --cluster create`): routing by slot, pipelines split
// across primaries, scripts on hash-tagged keys, MOVED after a slot moved and ASK during a
// migration.
#include "redis/cluster_client.hpp"

#include "redis/async_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/process.hpp"
#include "support/redis_server.hpp"

namespace tresse::dispatcher::redis {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Runs one coroutine to completion on a fresh io_context.
template <class T>
T run(asio::awaitable<T> work) {
  asio::io_context io;
  auto f = asio::co_spawn(io, std::move(work), asio::use_future);
  io.run();
  return f.get();
}

class ClusterClientTest : public ::testing::Test {
 protected:
  static constexpr int kNodes = 3;

  static void SetUpTestSuite() {
    for (int i = 0; i < kNodes; ++i) {
      nodes_[i] = new test::redis_server(
          {.extra = {"--cluster-enabled", "yes", "--cluster-node-timeout", "2000",
                     // a node down leaves the other slots served (the last test)
                     "--cluster-require-full-coverage", "no"}});
    }
    std::vector<std::string> create{"/usr/bin/redis-cli", "--cluster", "create"};
    for (auto* n : nodes_) create.push_back("127.0.0.1:" + std::to_string(n->port()));
    create.insert(create.end(), {"--cluster-replicas", "0", "--cluster-yes"});
    auto r = test::run_process(create, {}, 60s);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    // Every node must agree the cluster is up before the tests route through it.
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    for (auto* n : nodes_) {
      client c(*parse_url(n->url()));
      for (;;) {
        auto info = c.command({"CLUSTER", "INFO"});
        if (info && info->str.find("cluster_state:ok") != std::string::npos) break;
        ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "cluster never came up";
        std::this_thread::sleep_for(100ms);
      }
    }
  }
  static void TearDownTestSuite() {
    for (auto*& n : nodes_) {
      delete n;
      n = nullptr;
    }
  }

  static std::vector<cluster_node> seeds() { return {{"127.0.0.1", nodes_[0]->port()}}; }
  static options base() { return *parse_url(nodes_[0]->url()); }
  static client node(int i) { return client(*parse_url(nodes_[i]->url())); }

  // The node (index) that serves `slot` now, by asking each.
  static int owner_of(std::uint16_t slot) {
    auto c = node(0);
    auto r = c.command({"CLUSTER", "SLOTS"});
    auto map = slot_map::from_cluster_slots(*r);
    const cluster_node* p = map->primary_for(slot);
    for (int i = 0; i < kNodes; ++i) {
      if (p != nullptr && p->port == nodes_[i]->port()) return i;
    }
    return -1;
  }
  static std::string id_of(int i) { return node(i).command({"CLUSTER", "MYID"})->str; }

  // The steps of `redis-cli --cluster reshard` for one slot: mark it, move keys, assign it.
  static void begin_migration(std::uint16_t slot, int from, int to) {
    const std::string s = std::to_string(slot);
    ASSERT_TRUE(node(to).command({"CLUSTER", "SETSLOT", s, "IMPORTING", id_of(from)}));
    ASSERT_TRUE(node(from).command({"CLUSTER", "SETSLOT", s, "MIGRATING", id_of(to)}));
  }
  static void migrate_key(const std::string& key, int from, int to) {
    auto m = node(from).command(
        {"MIGRATE", "127.0.0.1", std::to_string(nodes_[to]->port()), key, "0", "5000"});
    ASSERT_TRUE(m) << m.error().message;
  }
  static void end_migration(std::uint16_t slot, int to) {
    for (int i = 0; i < kNodes; ++i) {
      ASSERT_TRUE(node(i).command({"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", id_of(to)}));
    }
  }

  static inline test::redis_server* nodes_[kNodes] = {};
};

TEST(ClusterCommandSlotTest, ParsesNodesAndDecodesCommands) {
  EXPECT_EQ(parse_node("127.0.0.1:7000")->port, 7000);
  EXPECT_EQ(parse_node("[::1]:7001")->host, "::1");
  for (std::string_view bad : {"", "host", ":7000", "h:0", "h:70000", "h:7x", "[::1:7000"}) {
    EXPECT_FALSE(parse_node(bad)) << bad;
  }
  command_list c;
  c.add({"SET", "k", std::string_view("\0bin", 4)}).add({"PING"});
  auto argv = decode_commands(c.resp(), c.size());
  ASSERT_TRUE(argv);
  ASSERT_EQ(argv->size(), 2u);
  EXPECT_EQ((*argv)[0][2], std::string("\0bin", 4));
  EXPECT_EQ((*argv)[1], std::vector<std::string>{"PING"});
  EXPECT_FALSE(decode_commands("+OK\r\n", 1));  // not a command
}

TEST(ClusterCommandSlotTest, RoutesByTheFirstKeyOrNone) {
  EXPECT_EQ(command_slot({"GET", "{we_1}:a"}), key_slot("we_1"));
  EXPECT_EQ(command_slot({"EVALSHA", "abc", "2", "{t}:a", "{t}:b", "arg"}), key_slot("t"));
  EXPECT_EQ(command_slot({"eval", "return 1", "0"}), std::nullopt);
  EXPECT_EQ(command_slot({"PING"}), std::nullopt);
  EXPECT_EQ(command_slot({"wait", "1", "100"}), std::nullopt);
  EXPECT_EQ(command_slot({"EVAL", "s", "x", "k"}), std::nullopt);  // a bad numkeys: any node
}

TEST_F(ClusterClientTest, EachKeyReachesItsPrimaryAndReadsBack) {
  cluster_client c(base(), seeds());
  run([&]() -> asio::awaitable<void> {
    for (int i = 0; i < 300; ++i) {
      const std::vector<std::string> set{"SET", "spread:" + std::to_string(i), std::to_string(i)};
      auto r = co_await c.command(set);
      EXPECT_TRUE(r) << (r ? "" : r.error().message);
    }
    for (int i = 0; i < 300; ++i) {
      const std::vector<std::string> get{"GET", "spread:" + std::to_string(i)};
      auto r = co_await c.command(get);
      EXPECT_TRUE(r && r->str == std::to_string(i));
    }
  }());
  // Spread over all three primaries, each key only on its own.
  long long total = 0;
  for (int i = 0; i < kNodes; ++i) {
    auto keys = node(i).command({"KEYS", "spread:*"});  // test-only; never in the dispatcher
    ASSERT_TRUE(keys);
    EXPECT_GT(keys->elements.size(), 50u) << "node " << i;
    total += static_cast<long long>(keys->elements.size());
  }
  EXPECT_EQ(total, 300);
  EXPECT_EQ(c.map_reads(), 1u);  // one map read; no redirection on a stable cluster
}

TEST_F(ClusterClientTest, APipelineAcrossPrimariesAnswersInOrder) {
  cluster_client c(base(), seeds());
  std::vector<std::vector<std::string>> commands;
  for (int i = 0; i < 60; ++i) {
    commands.push_back({"SET", "pipe:" + std::to_string(i), "v" + std::to_string(i)});
    commands.push_back({"GET", "pipe:" + std::to_string(i)});
  }
  commands.push_back({"LPUSH", "pipe:0", "x"});  // WRONGTYPE: kept in place as an error reply
  auto r = run(c.pipeline(commands));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), commands.size());
  for (int i = 0; i < 60; ++i) {
    EXPECT_EQ((*r)[2 * i].str, "OK");
    EXPECT_EQ((*r)[2 * i + 1].str, "v" + std::to_string(i));
  }
  EXPECT_EQ(r->back().type, reply::kind::error);
  EXPECT_TRUE(r->back().str.starts_with("WRONGTYPE"));
}

// A keyless MULTI goes with the command after it, EXEC and WAIT with the one before: the
// transaction reaches its keys' primary whole.
TEST_F(ClusterClientTest, KeylessCommandsGoWithTheirNeighbours) {
  cluster_client c(base(), seeds());
  auto r = run(c.pipeline({{"MULTI"},
                           {"SET", "tx:{t9}:a", "1"},
                           {"INCR", "tx:{t9}:n"},
                           {"EXEC"},
                           {"WAIT", "0", "0"}}));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 5u);
  EXPECT_EQ((*r)[0].str, "OK");
  EXPECT_EQ((*r)[1].str, "QUEUED");
  ASSERT_EQ((*r)[3].type, reply::kind::array);
  ASSERT_EQ((*r)[3].elements.size(), 2u);
  EXPECT_EQ((*r)[3].elements[1].integer, 1);
  EXPECT_EQ((*r)[4].type, reply::kind::integer);
}

TEST_F(ClusterClientTest, AScriptRunsOnItsHashTagsPrimary) {
  cluster_client c(base(), seeds());
  const script s("redis.call('SET', KEYS[1], ARGV[1]); redis.call('SET', KEYS[2], ARGV[1]);"
                 "return redis.call('GET', KEYS[2])");
  auto r = run(c.eval(s, {"tresse:{we_s}:a", "tresse:{we_s}:b"}, {"both"}));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->str, "both");
  auto again = run(c.eval(s, {"tresse:{we_s}:a", "tresse:{we_s}:b"}, {"again"}));  // EVALSHA
  ASSERT_TRUE(again);
  EXPECT_EQ(again->str, "again");
  const int owner = owner_of(key_slot("we_s"));
  ASSERT_GE(owner, 0);
  EXPECT_EQ(node(owner).command({"GET", "tresse:{we_s}:a"})->str, "again");
}

// A slot moved (as `redis-cli --cluster reshard` does it, one slot): the client's map is stale,
// its first try is answered MOVED, it follows and reads the map again.
TEST_F(ClusterClientTest, FollowsMovedAfterASlotChangedOwner) {
  cluster_client c(base(), seeds());
  const std::string key = "moved:{m1}";
  const std::uint16_t slot = key_slot("m1");
  ASSERT_TRUE(run(c.command({"SET", key, "before"})));
  const std::size_t reads = c.map_reads();
  const int from = owner_of(slot);
  const int to = (from + 1) % kNodes;
  ASSERT_NO_FATAL_FAILURE(begin_migration(slot, from, to));
  ASSERT_NO_FATAL_FAILURE(migrate_key(key, from, to));
  ASSERT_NO_FATAL_FAILURE(end_migration(slot, to));
  std::this_thread::sleep_for(150ms);  // past the client's 100 ms between map reads
  auto r = run(c.command({"GET", key}));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->str, "before");
  EXPECT_GT(c.map_reads(), reads);
  // Writes go to the new owner too.
  ASSERT_TRUE(run(c.command({"SET", key, "after"})));
  EXPECT_EQ(node(to).command({"GET", key})->str, "after");
}

// During a migration the source answers ASK for a key it no longer holds: the client sends
// ASKING and the command to the target, once, and keeps its map.
TEST_F(ClusterClientTest, FollowsAskDuringAMigration) {
  cluster_client c(base(), seeds());
  const std::string moving = "ask:{a1}:moving";
  const std::string staying = "ask:{a1}:staying";
  const std::uint16_t slot = key_slot("a1");
  ASSERT_TRUE(run(c.command({"SET", moving, "m"})));
  ASSERT_TRUE(run(c.command({"SET", staying, "s"})));
  const std::size_t reads = c.map_reads();
  const int from = owner_of(slot);
  const int to = (from + 1) % kNodes;
  ASSERT_NO_FATAL_FAILURE(begin_migration(slot, from, to));
  ASSERT_NO_FATAL_FAILURE(migrate_key(moving, from, to));
  auto r = run(c.pipeline({{"GET", moving}, {"GET", staying}}));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)[0].str, "m");  // via ASK to the target
  EXPECT_EQ((*r)[1].str, "s");  // still on the source
  EXPECT_EQ(c.map_reads(), reads);
  // Finish the migration, so that the suite's cluster stays consistent.
  ASSERT_NO_FATAL_FAILURE(migrate_key(staying, from, to));
  ASSERT_NO_FATAL_FAILURE(end_migration(slot, to));
}

// redis::client and redis::async_client (both modes) with options::cluster_nodes: every
// store's code runs on a cluster unchanged.
TEST_F(ClusterClientTest, BothClientsRouteInClusterMode) {
  options o = base();
  o.cluster_nodes = {"127.0.0.1:" + std::to_string(nodes_[1]->port())};
  client blocking(o);
  command_list sets;
  for (int i = 0; i < 40; ++i) sets.add({"SET", "mode:" + std::to_string(i), std::to_string(i)});
  auto r = blocking.pipeline(sets);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->size(), 40u);
  EXPECT_EQ(blocking.command({"GET", "mode:7"})->str, "7");
  EXPECT_FALSE(blocking.command({"LPUSH", "mode:7", "x"}));  // WRONGTYPE, as an error
  const script s("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  EXPECT_EQ(blocking.eval(s, {"mode:{n}"}, {"5"})->integer, 5);
  EXPECT_EQ(blocking.eval(s, {"mode:{n}"}, {"5"})->integer, 10);
  EXPECT_TRUE(blocking.ping());

  async_client own(o);
  asio::io_context shard_io;
  async_client bound(o, shard_io);
  // Replies come from the cluster client's thread: the shard's io_context must not run out of
  // work meanwhile (a real shard holds a guard for its whole life).
  auto guard = asio::make_work_guard(shard_io);
  auto f = asio::co_spawn(
      shard_io,
      [&]() -> asio::awaitable<void> {
        for (async_client* c : {&own, &bound}) {
          const std::vector<std::vector<std::string>> gets{{"GET", "mode:1"}, {"GET", "mode:39"}};
          auto g = co_await c->pipeline(gets);
          EXPECT_TRUE(g && g->size() == 2 && (*g)[0].str == "1" && (*g)[1].str == "39");
          const std::vector<std::string> keys{"mode:{n}"}, args{"1"};
          auto e = co_await c->eval(s, keys, args);
          EXPECT_TRUE(e);
        }
        guard.reset();
      },
      asio::use_future);
  shard_io.run();
  f.get();
  EXPECT_EQ(blocking.command({"GET", "mode:{n}"})->str, "12");
}

// A node that is gone: commands for its slots fail as transient (callers retry), the others
// go on.
TEST_F(ClusterClientTest, ANodeDownFailsItsSlotsTransientlyOnly) {
  cluster_client c(base(), seeds());
  const std::string key = "down:{d1}";
  ASSERT_TRUE(run(c.command({"SET", key, "x"})));
  const int owner = owner_of(key_slot("d1"));
  std::string other;
  for (int i = 0; other.empty(); ++i) {
    const std::string tag = "o" + std::to_string(i);
    if (owner_of(key_slot(tag)) != owner) other = "down:{" + tag + "}";
  }
  ASSERT_TRUE(run(c.command({"SET", other, "y"})));
  nodes_[owner]->stop();
  auto r = run(c.command({"GET", key}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, error_kind::transient);
  auto o = run(c.command({"GET", other}));
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->str, "y");
  nodes_[owner]->start();  // back with the same node id (nodes.conf in its dir)
}

}  // namespace
}  // namespace tresse::dispatcher::redis
