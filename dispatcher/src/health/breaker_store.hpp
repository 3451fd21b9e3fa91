// Circuit-breaker state shared by every dispatcher instance, in Redis (keys: redis/keys.hpp).
//
// An instance whose breaker opens publishes its open_until; the others adopt it on their next
// sync (open_circuits(), every half second), so a dead endpoint is spared by all instances, not
// only the one that saw the failures. After the cool-down each instance sees the circuit
// half-open, and only the one that wins the probe lease (SET NX with a TTL) sends a request;
// its success removes the entry (closed everywhere on the next sync), its failure publishes a
// later open_until.
//
//   health::breaker_store shared(redis);
//   shared.publish_open("we_1", now + 30s);
//   if (*shared.try_probe_lease("we_1", "host-pid", 20s)) { ... probe ...;
//   shared.publish_closed("we_1"); }
//
// Thread-safe (blocking calls: run them off the io thread). Errors: transient when Redis is
// unreachable.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "health/breaker.hpp"
#include "redis/client.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::health {

struct open_circuit {
  std::string endpoint_id;
  wall_time open_until;
};

class breaker_store {
 public:
  explicit breaker_store(std::shared_ptr<redis::client> redis);

  // Records the circuit open until `until` (keeps a later open_until already stored);
  // `release_probe` also drops the probe lease (a failed probe), so that the next half-open
  // period need not wait for the lease's TTL.
  status publish_open(std::string_view endpoint_id, wall_time until, bool release_probe = false);
  // Closes it for everyone and drops the probe lease.
  status publish_closed(std::string_view endpoint_id);
  struct lease_result {
    bool won = false;
    std::optional<wall_time> open_until;  // the shared open_until, if any
  };
  // Takes the endpoint's probe lease for `lease`, unless another instance holds it or the shared
  // circuit is open past `now` (a probe just failed elsewhere: adopt `open_until` instead).
  result<lease_result> try_probe_lease(std::string_view endpoint_id, std::string_view owner,
                                       std::chrono::milliseconds lease, wall_time now);
  // Every open (or half-open) circuit.
  result<std::vector<open_circuit>> open_circuits();

 private:
  std::shared_ptr<redis::client> redis_;
};

}  // namespace tresse::dispatcher::health
