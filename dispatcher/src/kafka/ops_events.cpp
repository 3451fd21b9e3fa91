#include "kafka/ops_events.hpp"

#include <openssl/rand.h>

#include <nlohmann/json.hpp>

#include "tresse/common/event.hpp"

namespace tresse::dispatcher::kafka {
namespace {

std::string random_id() {
  static constexpr char alphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  unsigned char bytes[16];
  RAND_bytes(bytes, sizeof bytes);
  std::string out = "opsevt_";
  for (unsigned char b : bytes) out += alphabet[b % 62];
  return out;
}

}  // namespace

const char* to_string(ops_event_type t) {
  switch (t) {
    case ops_event_type::failing:
      return "webhook_endpoint.failing";
    case ops_event_type::disabled:
      return "webhook_endpoint.disabled";
  }
  return "unknown";
}

std::string ops_event_json(const ops_event& e, std::chrono::system_clock::time_point now) {
  nlohmann::json data = {{"endpoint_id", e.endpoint_id}};
  if (!e.url.empty()) data["url"] = e.url;
  if (!e.reason.empty()) data["reason"] = e.reason;
  if (e.consecutive_dead_lettered) data["consecutive_dead_lettered"] = *e.consecutive_dead_lettered;
  if (e.failing_since) data["failing_since"] = tresse::events::format_rfc3339(*e.failing_since);
  nlohmann::json doc = {{"id", random_id()},
                        {"type", to_string(e.type)},
                        {"timestamp", tresse::events::format_rfc3339(now)},
                        {"business_id", e.business_id},
                        {"data", std::move(data)}};
  return doc.dump();
}

ops_publisher::ops_publisher(std::shared_ptr<tresse::kafka::producer> producer, ops_options options)
    : producer_(std::move(producer)), options_(std::move(options)) {}

status ops_publisher::publish(const ops_event& e) {
  const std::string record = ops_event_json(e, std::chrono::system_clock::now());
  return producer_->produce_and_wait(options_.topic, e.business_id, record, options_.ack_timeout);
}

}  // namespace tresse::dispatcher::kafka
