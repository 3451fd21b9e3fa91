// redis::cluster_client against a real 3-primary Redis Cluster (redis-server
// --cluster-enabled, joined with `redis-cli --cluster create`): routing by slot, pipelines split
// across primaries, scripts on hash-tagged keys, MOVED after a slot moved and ASK during a
// migration.
#include "redis/cluster_client.hpp"

#include "redis/async_client.hpp"
#include "redis/request.hpp"
#include "redis/server_check.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/process.hpp"
#include "support/redis_cluster.hpp"

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

  static void SetUpTestSuite() { cluster_ = new test::redis_cluster({.primaries = kNodes}); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  static test::redis_server& server(int i) { return cluster_->node(i); }
  static std::vector<cluster_node> seeds() { return {{"127.0.0.1", server(0).port()}}; }
  static options base() { return *parse_url(server(0).url()); }
  static client node(int i) { return client(*parse_url(server(i).url())); }
  // Cluster mode (what redis+cluster:// gives) with node `seed` as the only seed.
  static options cluster_options(int seed) {
    options o = base();
    o.cluster_nodes = {"127.0.0.1:" + std::to_string(server(seed).port())};
    return o;
  }

  // The node (index) that serves `slot` now, as this client's parser reads CLUSTER SLOTS.
  static int owner_of(std::uint16_t slot) {
    auto c = node(0);
    auto r = c.command({"CLUSTER", "SLOTS"});
    auto map = slot_map::from_cluster_slots(*r);
    const cluster_node* p = map->primary_for(slot);
    for (int i = 0; i < kNodes; ++i) {
      if (p != nullptr && p->port == server(i).port()) return i;
    }
    return -1;
  }

  // The steps of `redis-cli --cluster reshard` for one slot (the harness's move_slot), with a
  // pause after the keys so far moved: `mid_way` runs while the slot is MIGRATING.
  static void move_slot(std::uint16_t slot, int from, int to,
                        const std::function<void()>& mid_way = {}) {
    cluster_->move_slot(slot, from, to, 1, mid_way);
  }

  static inline test::redis_cluster* cluster_ = nullptr;
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

TEST(ClusterUrlTest, ParsesSeedNodesUserAndPassword) {
  auto o = parse_url("redis+cluster://app:p%40ss@10.0.0.1:7000,redis-1.internal,[::1]:7002/0");
  ASSERT_TRUE(o.has_value()) << o.error().message;
  EXPECT_EQ(o->cluster_nodes,
            (std::vector<std::string>{"10.0.0.1:7000", "redis-1.internal:6379", "[::1]:7002"}));
  EXPECT_EQ(o->user, "app");
  EXPECT_EQ(o->password, "p@ss");
  EXPECT_EQ(o->db, 0);
  EXPECT_FALSE(o->uses_sentinel());
  auto one = parse_url("redis+cluster://127.0.0.1:7000");
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->cluster_nodes, std::vector<std::string>{"127.0.0.1:7000"});
  // Every seed parses to a node the cluster client takes.
  for (const auto& n : o->cluster_nodes) EXPECT_TRUE(parse_node(n)) << n;
  EXPECT_TRUE(parse_url("redis://127.0.0.1:7000")->cluster_nodes.empty());
}

TEST(ClusterUrlTest, RejectsOtherDatabasesAndBadNodesWithoutEchoingThePassword) {
  for (const char* url :
       {"redis+cluster://:hunter2@h1:7000/1", "redis+cluster://:hunter2@h1:7000,/0",
        "redis+cluster://:hunter2@h1:99999", "redis+cluster://:hunter2@", "redis+cluster://:hunter2@h1/x",
        "redis+cluster://:hunter2@::1:7000"}) {
    auto o = parse_url(url);
    ASSERT_FALSE(o.has_value()) << url;
    EXPECT_EQ(o.error().kind, error_kind::permanent) << url;
    EXPECT_EQ(o.error().message.find("hunter2"), std::string::npos) << o.error().message;
  }
  EXPECT_NE(parse_url("redis+cluster://h1:7000/2").error().message.find("database 0 only"),
            std::string::npos);
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
  move_slot(slot, from, to);
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
  // The slot's two keys move one at a time; after the first, one is on each side.
  bool checked = false;
  move_slot(slot, from, to, [&] {
    if (std::exchange(checked, true)) return;
    // The source answers ASK (an error here) for a key it no longer holds.
    const bool moving_moved = !node(from).command({"EXISTS", moving}).has_value();
    const std::string& gone = moving_moved ? moving : staying;
    const std::string& kept = moving_moved ? staying : moving;
    auto r = run(c.pipeline({{"GET", gone}, {"GET", kept}}));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ((*r)[0].str, gone == moving ? "m" : "s");  // via ASK to the target
    EXPECT_EQ((*r)[1].str, kept == moving ? "m" : "s");  // still on the source
    EXPECT_EQ(c.map_reads(), reads);
  });
  EXPECT_TRUE(checked);
}

// A multi-key command (or script) whose keys a migration has split between two nodes is
// answered TRYAGAIN: in a pipeline too, it goes again after a pause until the slot has moved
// (then MOVED takes it to the new owner), instead of coming back as an error reply.
TEST_F(ClusterClientTest, RetriesTryAgainInAPipelineUntilTheSlotHasMoved) {
  cluster_client c(base(), seeds());
  const std::string a = "try:{t1}:a", b = "try:{t1}:b", other = "try:{t2}:c";
  const std::uint16_t slot = key_slot("t1");
  ASSERT_NE(slot, key_slot("t2"));
  ASSERT_TRUE(run(c.pipeline({{"SET", a, "A"}, {"SET", b, "B"}, {"SET", other, "C"}})));
  const int from = owner_of(slot);
  const int to = (from + 1) % kNodes;
  std::future<result<std::vector<reply>>> split;
  move_slot(slot, from, to, [&] {
    if (split.valid()) return;  // once, with one of the two keys moved
    auto direct = node(from).command({"MGET", a, b});
    ASSERT_FALSE(direct.has_value());
    EXPECT_NE(direct.error().message.find("TRYAGAIN"), std::string::npos) << direct.error().message;
    split = std::async(std::launch::async, [&] {
      return run(c.pipeline({{"GET", other}, {"MGET", a, b}}));
    });
    std::this_thread::sleep_for(300ms);  // met TRYAGAIN at least once before the slot moves on
  });
  ASSERT_TRUE(split.valid());
  auto r = split.get();
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].str, "C");
  ASSERT_EQ((*r)[1].type, reply::kind::array) << (*r)[1].str;
  ASSERT_EQ((*r)[1].elements.size(), 2u);
  EXPECT_EQ((*r)[1].elements[0].str, "A");
  EXPECT_EQ((*r)[1].elements[1].str, "B");
}

// redis::client and redis::async_client (both modes) with options::cluster_nodes: every
// store's code runs on a cluster unchanged.
TEST_F(ClusterClientTest, BothClientsRouteInClusterMode) {
  const options o = cluster_options(1);
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

// What run --check and the start-up log say of a cluster.
TEST_F(ClusterClientTest, ReadsTheClusterFactsThroughTheClusterClient) {
  client c(cluster_options(2));
  auto f = read_cluster_facts(c);
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->slots_served, cluster_slot_count);
  EXPECT_EQ(f->primaries, 3u);
  EXPECT_EQ(f->fewest_replicas, 0u);
  EXPECT_EQ(describe(*f),
            "16384 of 16384 slots served by 3 primaries, not every one with a replica (no WAIT "
            "there)");
}

// The start-up check on a cluster asks every primary: one that evicts is found wherever it is.
TEST_F(ClusterClientTest, ServerFactsAreTheWorstOfEveryPrimary) {
  client c(cluster_options(0));
  auto f = read_server_facts(c);
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->maxmemory_policy, "noeviction");
  EXPECT_EQ(f->aof_enabled, false);  // the harness's nodes persist nothing
  // Not the primary of slot 0, where a lone INFO would go.
  const int other = owner_of(0) == 2 ? 1 : 2;
  ASSERT_TRUE(node(other).command({"CONFIG", "SET", "maxmemory-policy", "allkeys-lru"}));
  f = read_server_facts(c);
  ASSERT_TRUE(node(other).command({"CONFIG", "SET", "maxmemory-policy", "noeviction"}));
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->maxmemory_policy, "allkeys-lru");
  EXPECT_FALSE(assess(*f).errors.empty());
}

TEST(ClusterCommandSlotTest, ARequestsRoutingKeyIsItsFirstKey) {
  const script s("return 1");
  request lua{.lua = &s, .keys = {"tresse:{rs3}:due", "tresse:{rs3}:claimed"}, .args = {"x"}};
  EXPECT_EQ(routing_key(lua), "tresse:{rs3}:due");
  request multi;
  multi.commands.add({"MULTI"}).add({"ZREM", "tresse:{rs5}:claimed", "t"}).add({"EXEC"});
  EXPECT_EQ(routing_key(multi), "tresse:{rs5}:claimed");  // MULTI and EXEC have none
  request spread;  // WAIT after it would go with the last
  spread.commands.add({"LPUSH", "tresse:attempts:endpoint:we_1", "a"}).add({"LPUSH", "tresse:attempts:event:e", "a"});
  EXPECT_EQ(routing_key(spread), "tresse:attempts:event:e");
  EXPECT_EQ(routing_key(single_command({"PING"})), "");
  EXPECT_EQ(routing_key(request{}), "");
}

// A keyless command sent behind a read of a key (delivery/redis_writer.cpp's ROLE and WAIT)
// reaches that key's primary, whichever primary serves slot 0.
TEST_F(ClusterClientTest, AKeylessCommandBehindAKeyReachesItsPrimary) {
  cluster_client c(base(), seeds());
  bool elsewhere = false;  // some key not on slot 0's primary, where a lone keyless one goes
  for (const std::string tag : {"rs0", "rs1", "rs2", "rs3", "rs7", "we_x"}) {
    const std::string key = "tresse:{" + tag + "}:due";
    auto r = run(c.pipeline({{"EXISTS", key}, {"CLUSTER", "MYID"}}));
    ASSERT_TRUE(r) << r.error().message;
    const int owner = owner_of(key_slot(tag));
    ASSERT_GE(owner, 0);
    EXPECT_EQ(r->back().str, cluster_->id_of(owner)) << key;
    elsewhere = elsewhere || owner != owner_of(0);
  }
  EXPECT_TRUE(elsewhere);
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
  server(owner).stop();
  auto r = run(c.command({"GET", key}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, error_kind::transient);
  auto o = run(c.command({"GET", other}));
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->str, "y");
  server(owner).start();  // back with the same node id (nodes.conf in its dir)
}

}  // namespace
}  // namespace tresse::dispatcher::redis
