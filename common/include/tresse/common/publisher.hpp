// Puts well-formed events on Kafka: what the Tresse platform links to publish.
//
// Every event is validated with parse_event before it is produced (a bad one is refused with
// the reason, never sent), and with validate_data its data against the event catalog, keyed by business_id (one business's events stay in order in one
// partition), and produced by an idempotent producer with acks=all.
//
//   auto pub = tresse::events::publisher::create({.brokers = "127.0.0.1:9092"});
//   auto ev = tresse::events::make_event({.type = "appointment.created",
//                                         .business_id = "biz_4f8a2c",
//                                         .data_json = R"({"id":"apt_q9w3r1z"})"});
//   if (ev) (*pub)->publish(*ev);
//   auto st = (*pub)->flush(10s);   // all acknowledged, or the reason why not
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tresse/common/event.hpp"
#include "tresse/common/kafka.hpp"

namespace tresse::events {

struct event_fields {
  std::string type;
  std::string business_id;
  std::string data_json = "{}";  // must be a JSON object
  std::string id;                // empty: a new "evt_…" id
  bool livemode = true;
  std::optional<std::chrono::system_clock::time_point> timestamp;  // empty: now
};

// Builds an envelope (fields in the documented order), serializes it once and validates it.
// Errors are permanent, with parse_event's reasons or "data must be a JSON object".
result<event> make_event(const event_fields& fields, std::size_t max_bytes = default_max_bytes);

struct publisher_options {
  std::string brokers;
  std::string topic = std::string(kafka::default_events_topic);
  std::size_t max_event_bytes = default_max_bytes;
  std::chrono::milliseconds message_timeout = std::chrono::seconds(30);
  kafka::config_map extra;  // librdkafka overrides
  // Also refuse an event whose data does not match its type's schema (event_catalog.hpp), with
  // check_data's reason ("data.starts_at: expected string (date-time)").
  bool validate_data = false;
};

class publisher {
 public:
  static result<std::unique_ptr<publisher>> create(publisher_options options);

  // Validates `bytes` and enqueues them unchanged. Returns the parsed event, or a permanent
  // error with the reason it was refused (nothing is sent then).
  result<event> publish(std::string_view bytes);
  // Enqueues an already parsed event (from make_event or parse_event); with validate_data, a
  // permanent error when its data does not match (nothing is sent then).
  status publish(const event& ev);

  // Waits for every enqueued event to be acknowledged; see kafka::producer::flush.
  status flush(std::chrono::milliseconds timeout);
  kafka::producer::stats counts() const { return producer_->counts(); }
  const std::string& topic() const { return options_.topic; }

 private:
  publisher(publisher_options options, std::unique_ptr<kafka::producer> p)
      : options_(std::move(options)), producer_(std::move(p)) {}

  publisher_options options_;
  std::unique_ptr<kafka::producer> producer_;
};

}  // namespace tresse::events
