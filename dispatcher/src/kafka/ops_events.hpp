// Operational events about endpoints, for whoever watches the ops topic (alerting, the
// platform's notifications to the business), published on `kafka.ops_topic`:
//
//   {"type": "webhook_endpoint.failing", "id": "opsevt_...", "timestamp": "2026-...Z",
//    "business_id": "biz_...",
//    "data": {"endpoint_id": "we_...", "url": "https://...", "reason": "...",
//             "consecutive_dead_lettered": 5, "failing_since": "2026-...Z"}}
//
// Types: webhook_endpoint.failing (consecutive deliveries dead-lettered: the endpoint will be
// disabled if it goes on failing), webhook_endpoint.disabled (by 410 Gone, a
// `webhook-delivery: disable` answer, or continuous failure; data.reason says which). Key:
// the business id. Fields that do not apply are left out.
//
//   ops_publisher ops(producer, {.topic = "tresse.webhooks.ops"});
//   ops.publish({.type = ops_event_type::disabled, .business_id = "biz_1", .endpoint_id = "we_1",
//                .reason = "http_410"});
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "tresse/common/kafka.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::kafka {

enum class ops_event_type { failing, disabled };
const char* to_string(ops_event_type t);  // "webhook_endpoint.failing", ...

struct ops_event {
  ops_event_type type = ops_event_type::failing;
  std::string business_id;
  std::string endpoint_id;
  std::string url;
  std::string reason;
  std::optional<std::int64_t> consecutive_dead_lettered;
  std::optional<std::chrono::system_clock::time_point> failing_since;
};

std::string ops_event_json(const ops_event& e, std::chrono::system_clock::time_point now);

struct ops_options {
  std::string topic = "tresse.webhooks.ops";
  std::chrono::milliseconds ack_timeout = std::chrono::seconds(10);
};

class ops_publisher {
 public:
  ops_publisher(std::shared_ptr<tresse::kafka::producer> producer, ops_options options = {});
  // Produces and waits for the broker's acknowledgement. Blocking: call off the io thread.
  status publish(const ops_event& e);
  const std::string& topic() const { return options_.topic; }

 private:
  std::shared_ptr<tresse::kafka::producer> producer_;
  ops_options options_;
};

}  // namespace tresse::dispatcher::kafka
