// Finding the primary through Redis Sentinel, for both clients (redis/client.hpp blocks,
// redis/async_client.hpp runs this on a thread of its own so a shard's io thread never waits
// on a sentinel).
//
//   auto o = redis::parse_url("redis+sentinel://s1:26379,s2:26379/mymaster/0");
//   auto primary = redis::resolve_primary(*o);   // SENTINEL get-master-addr-by-name mymaster
//   // connect to *primary, AUTH/SELECT, then ROLE: redis::parse_role(reply).primary must hold
//
// Following a failover is reconnecting: every new connection asks the sentinels again, and a
// connection that finds itself on a replica (ROLE, or a READONLY error reply: the old primary
// was demoted) is dropped, so the next try asks again. Until the sentinels have promoted a
// replica, connecting fails (transient) and callers wait as they do when Redis is down.
#pragma once

#include <cstddef>

#include "redis/client.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::redis {

// The reply to SENTINEL get-master-addr-by-name: [ip, port]. A nil reply (the sentinel does
// not know the name) or anything else is a transient error naming what was wrong.
result<address> parse_master_address(const reply& r);

// The reply to ROLE: ["master", offset, [[ip, port, offset]...]] or ["slave", ...] /
// ["sentinel", ...]. `replicas`: the replicas connected to a primary.
struct role {
  bool primary = false;
  std::size_t replicas = 0;
};
result<role> parse_role(const reply& r);

// Asks o.sentinels in turn (each within o.connect_timeout and o.command_timeout, no AUTH) and
// returns the first address one names. Blocks; a transient error when none answered with an
// address (the last sentinel's error in the message).
result<address> resolve_primary(const options& o);

// Where to connect: o.host:o.port, or with sentinels resolve_primary(o).
result<address> server_address(const options& o);

// An error reply saying this server no longer takes writes (READONLY: a demoted primary, or a
// replica named as primary): the connection is dropped so the next one finds the new primary.
bool is_demoted(const reply& r);

}  // namespace tresse::dispatcher::redis
