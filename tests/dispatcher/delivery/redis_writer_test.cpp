// redis_writer on a real Redis Cluster with a replica per primary (tests/support/redis_cluster):
// with redis.wait_replicas auto, a hand-off returns only once the replica of the primary that
// took it acknowledged it. The WAIT sent again after a short one, and the ROLE asked then, must
// reach that primary, not whichever serves slot 0 (a lone keyless command's destination), whose
// replica would acknowledge at once.
#include "delivery/redis_writer.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "redis/cluster_slots.hpp"
#include "redis/request.hpp"
#include "support/redis_cluster.hpp"

namespace tresse::dispatcher {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

TEST(RedisWriterTest, OnAClusterWaitsForTheReplicaOfTheWritesPrimary) {
  test::redis_cluster cluster({.primaries = 3, .replicas = 1, .node_timeout = 5000ms});
  // A retry shard whose primary does not serve slot 0.
  std::string key;
  int primary = -1;
  for (int n = 0; key.empty(); ++n) {
    const std::string tag = "rs" + std::to_string(n);
    primary = cluster.owner_of(redis::key_slot(tag));
    if (primary != cluster.owner_of(0)) key = "tresse:{" + tag + "}:due";
  }
  const int replica = cluster.replica_of(primary);
  ASSERT_GE(replica, 0);

  auto opts = *redis::parse_url(cluster.url());
  opts.wait_replicas = redis::options::wait_auto;
  opts.wait_timeout = 300ms;
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::atomic<bool> stopping{false};
  std::optional<redis_writer> writer;
  writer.emplace(io, opts, stopping);
  std::thread shard([&] { io.run(); });
  auto write = [&](const std::string& member) {
    return asio::co_spawn(
        io,
        [&, member]() -> asio::awaitable<bool> {
          redis::request r;
          r.commands.add({"ZADD", key, "1", member});
          co_return (co_await writer->write(r, "test")).has_value();
        },
        asio::use_future);
  };

  auto first = write("a");
  ASSERT_EQ(first.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(first.get());

  // That replica hangs (connected, not acknowledging): the hand-off waits for it.
  cluster.node(replica).pause();
  auto second = write("b");
  EXPECT_EQ(second.wait_for(2s), std::future_status::timeout)
      << "acknowledged while the replica of the write's primary was hung";
  cluster.node(replica).resume();
  ASSERT_EQ(second.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(second.get());

  stopping = true;
  work.reset();
  io.stop();
  shard.join();
  writer.reset();  // after its io_context stopped running (async_client.hpp)
}

}  // namespace
}  // namespace tresse::dispatcher
