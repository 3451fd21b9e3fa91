// Redis Cluster's routing rules, as pure functions: the slot of a key, the slot map a node
// reports, and the redirections it answers with. The cluster adapter (issue 14) routes by
// these; nothing here does I/O.
//
//   redis::key_slot("tresse:{rs3}:due");             // CRC16("rs3") % 16384
//   auto map = redis::slot_map::from_cluster_slots(*reply);   // CLUSTER SLOTS
//   const redis::cluster_node* n = map->primary_for(redis::key_slot(key));
//   if (auto r = redis::parse_redirect(error_reply)) { /* MOVED or ASK: r->slot, r->target */ }
//
// Rules from the Redis Cluster specification: slot = CRC16-XMODEM(k) mod 16384, where k is the
// key's hash tag (between its first '{' and the first '}' after it) when that is non-empty,
// else the whole key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redis/client.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::redis {

inline constexpr std::uint16_t cluster_slot_count = 16384;

// CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), as Redis Cluster uses.
std::uint16_t crc16(std::string_view data);

// The part of `key` that decides its slot: the hash tag when there is a non-empty one, else
// the whole key.
std::string_view hash_tag(std::string_view key);

// The key's cluster slot, 0..16383.
std::uint16_t key_slot(std::string_view key);

struct cluster_node {
  std::string host;  // empty: the host of the node that sent the reply (Redis may omit it)
  int port = 0;
  bool operator==(const cluster_node&) const = default;
};

struct slot_range {
  std::uint16_t first = 0;  // inclusive
  std::uint16_t last = 0;   // inclusive
  cluster_node primary;
  std::vector<cluster_node> replicas;
};

// Which primary serves each slot. Slots no range covers have no primary (a cluster being set
// up, or a failed shard): primary_for returns nullptr for them.
class slot_map {
 public:
  // From a CLUSTER SLOTS reply: [[first, last, [host, port, id...], [replica...]...], ...].
  // Returns a permanent error for a reply of another shape.
  static result<slot_map> from_cluster_slots(const reply& r);
  // From a CLUSTER SHARDS reply (Redis 7, RESP2): [["slots", [first, last, ...], "nodes",
  // [["ip", .., "port", .., "role", "master"|"replica", "health", ..., ...], ...]], ...].
  // A node's "endpoint" is preferred over its "ip", as Redis does; nodes whose health is not
  // "online" are left out. Permanent error for another shape.
  static result<slot_map> from_cluster_shards(const reply& r);

  const cluster_node* primary_for(std::uint16_t slot) const;
  // Sorted by `first`, not overlapping.
  const std::vector<slot_range>& ranges() const { return ranges_; }

 private:
  static result<slot_map> from_ranges(std::vector<slot_range> ranges);
  std::vector<slot_range> ranges_;
};

// A redirection: "MOVED <slot> <host>:<port>" (the slot has a new owner: update the map) or
// "ASK <slot> <host>:<port>" (during a migration: send ASKING, then the command, to the target
// once, without updating the map).
struct redirect {
  enum class kind { moved, ask };
  kind type = kind::moved;
  std::uint16_t slot = 0;
  cluster_node target;
};

// nullopt unless `r` is an error reply holding a well-formed MOVED or ASK.
std::optional<redirect> parse_redirect(const reply& r);

}  // namespace tresse::dispatcher::redis
