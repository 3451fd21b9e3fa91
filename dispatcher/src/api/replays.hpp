// Replays: re-deliver to one endpoint every event Kafka still holds in a time window.
//
// start() records the replay in Redis (status "running") and scans the window on a worker
// thread of this instance (kafka/window_reader.hpp: its own consumer, so live delivery's group
// and offsets are untouched). Every event of the endpoint's business and mode that the
// endpoint subscribes to becomes a delivery task due now in the retry schedule, which any
// instance then delivers like a retry; webhook.test pings are not replayed. Progress
// (scanned / matched / scheduled) is written to the record as it goes; GET /v1/replays/{id}
// reads it from any instance.
//
// A window must not begin before what the topic still holds (kafka/retention.hpp): the API asks
// earliest_replayable() and refuses such a window naming that time, rather than replaying less
// than asked. When it cannot be learned (Kafka unreachable), windows are taken as given and a
// warning is logged once, until it can again.
//
// If the instance stops mid-replay, the record says "failed" with the reason when it could
// still write it; a crashed instance leaves it "running" (the tasks already scheduled are
// delivered; call replay again for the rest: deliveries are deduplicated by webhook-id).
#pragma once

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "kafka/retention.hpp"
#include "kafka/window_reader.hpp"
#include "redis/client.hpp"
#include "redis/request.hpp"
#include "registry/endpoint.hpp"
#include "retry/store.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::api {

struct replay_options {
  kafka::window_scan scan;
  std::size_t workers = 2;  // replays scanning at once on this instance; more wait their turn
  std::chrono::hours record_ttl{24 * 7};
  // How long what the topic retains is remembered, and the longest a look-up may take (an API
  // request waits for it, at most once per max age).
  std::chrono::milliseconds retention_max_age = std::chrono::minutes(1);
  std::chrono::milliseconds retention_timeout = std::chrono::seconds(5);
};

class replays {
 public:
  replays(std::shared_ptr<redis::client> redis, retry::store& retries, replay_options opts);
  ~replays();  // stop()

  // Records a new replay and queues its scan. Returns the replay object (status "running").
  result<nlohmann::json> start(const registry::endpoint& ep, registry::clock::time_point since,
                               registry::clock::time_point until);

  // The replay object as last written; nullopt when unknown or expired. `business_id` and
  // `livemode` scope it: another business's replay, or one of the other mode (test vs live),
  // is nullopt.
  result<std::optional<nlohmann::json>> get(std::string_view id, std::string_view business_id,
                                            bool livemode);

  // start() and get() as round trips for either client (redis/request.hpp); start_op queues
  // the scan once the record is written. `this` must outlive them.
  redis::operation<nlohmann::json> start_op(const registry::endpoint& ep,
                                            registry::clock::time_point since,
                                            registry::clock::time_point until);
  static redis::operation<std::optional<nlohmann::json>> get_op(std::string_view id,
                                                                std::string_view business_id,
                                                                bool livemode);

  // The earliest time a replay window may begin, rounded up to a whole second (the API's
  // precision): before it the topic has lost events. nullopt when nothing was lost yet, or
  // when it cannot be learned (logged once).
  std::optional<registry::clock::time_point> earliest_replayable();

  // Cancels running scans (their records end "failed": "dispatcher stopped") and waits.
  void stop();

 private:
  void run(std::string id, registry::endpoint ep, std::int64_t since_ms, std::int64_t until_ms);

  std::shared_ptr<redis::client> redis_;
  retry::store& retries_;
  replay_options opts_;
  kafka::retention_cache retention_;
  std::atomic<bool> retention_unknown_{false};  // warned about, until it is known again
  std::atomic<bool> emptied_warned_{false};
  std::atomic<bool> stopping_{false};
  boost::asio::thread_pool pool_;
};

}  // namespace tresse::dispatcher::api
