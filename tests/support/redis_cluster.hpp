// A real Redis Cluster for tests: N primaries (and R replicas each) as redis-server processes on
// free loopback ports, joined with `redis-cli --cluster create`, ready (every node says
// cluster_state:ok) when the constructor returns. Queries go through redis-cli, so the fixture
// needs no Redis client of its own.
//
//   tresse::test::redis_cluster cluster({.primaries = 3, .replicas = 1});
//   std::string url = cluster.url();            // "redis+cluster://127.0.0.1:p1,127.0.0.1:p2,..."
//   int i = cluster.owner_of(slot);             // the node serving it now
//   cluster.node(i).kill();                     // a replica is promoted after node_timeout
//   cluster.move_slot(slot, i, j);              // what `redis-cli --cluster reshard` does
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "support/redis_server.hpp"

namespace tresse::test {

struct redis_cluster_options {
  int primaries = 3;
  int replicas = 0;  // per primary
  // cluster-node-timeout: how long a primary may be silent before its replica takes over.
  std::chrono::milliseconds node_timeout{2000};
};

class redis_cluster {
 public:
  explicit redis_cluster(redis_cluster_options opts = {});
  redis_cluster(const redis_cluster&) = delete;
  redis_cluster& operator=(const redis_cluster&) = delete;

  std::size_t size() const { return nodes_.size(); }
  redis_server& node(std::size_t i) { return *nodes_[i]; }
  // redis+cluster:// with every node as a seed.
  std::string url() const;

  // `redis-cli -p <node i's port> args...`: its stdout, one reply element a line. Throws
  // std::runtime_error when redis-cli fails.
  std::string cli(std::size_t i, const std::vector<std::string>& args) const;
  std::string id_of(std::size_t i) const;
  // The node serving `slot` as a primary, as a running node sees it; -1 when none does.
  int owner_of(std::uint16_t slot) const;
  // A replica of primary `i` (a node index), -1 when it has none online.
  int replica_of(std::size_t i) const;
  // The slot of `key` (CLUSTER KEYSLOT).
  std::uint16_t slot_of(const std::string& key) const;
  // True once every running node says cluster_state:ok and names a running primary for every
  // slot (after a failover: the promoted replica).
  bool healthy() const;
  bool wait_healthy(std::chrono::milliseconds timeout) const;

  // Moves `slot` from node `from` to node `to` as `redis-cli --cluster reshard` does: IMPORTING
  // and MIGRATING, its keys MIGRATEd `batch` at a time (calling `between` after each batch, so
  // a test can let clients meet ASK mid-way), then SETSLOT NODE on every running node.
  void move_slot(std::uint16_t slot, std::size_t from, std::size_t to, int batch = 10,
                 const std::function<void()>& between = {});

  // Half a reshard: `key`'s slot (`slot`, the caller's CRC16 of it) starts migrating from its owner to the next node, and only
  // `key` is MIGRATEd, so the rest of the slot is still on the source.
  struct migration {
    std::uint16_t slot;
    int from;
    int to;
  };
  migration migrate_key_alone(const std::string& key, std::uint16_t slot);

 private:
  std::vector<std::unique_ptr<redis_server>> nodes_;
};

}  // namespace tresse::test
