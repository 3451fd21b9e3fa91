// Dead letters: what could not be delivered, written to the dead-letter topic with the reason.
//
// A record is one JSON object:
//   {"reason": "...", "event": {...the original event, byte for byte...},
//    "endpoint_id": "ep_..." (when one endpoint gave up), "attempts": [...],
//    "source": {"topic": "tresse.events", "partition": 3, "offset": 1234, "key": "biz_..."},
//    "dead_lettered_at": "2026-04-19T10:32:00Z"}
// When the original bytes are not a JSON object, "original": {"base64": "...", "text": "..."}
// replaces "event" ("text" only when the bytes are valid UTF-8); past 512 KiB only the first
// 64 KiB are kept, with "truncated": true and "size". The record's key is the event's
// business_id when known, else the source message's key.
//
// produce_and_wait returns only once the broker acknowledged the record, so the caller marks
// the source offset done only after the dead letter is safe.
//
//   dead_letter_producer dlq(std::move(producer), {.topic = "tresse.webhooks.dead"});
//   auto st = dlq.produce_and_wait({.reason = "unknown event type 'x'", .original = msg.value,
//                                   .source = {msg.topic, msg.partition, msg.offset, msg.key}});
//   if (st) consumer.done(msg.partition, msg.offset);
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "tresse/common/kafka.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::kafka {

inline constexpr std::size_t max_dead_letter_original_bytes = 512 * 1024;

struct dead_letter {
  std::string reason;
  std::string_view original;               // the source message's value, exactly
  std::optional<std::string> business_id;  // from the parsed event, if it parsed
  std::optional<std::string> endpoint_id;
  nlohmann::json attempts = nlohmann::json::array();  // the delivery attempts, as logged
  struct source_ref {
    std::string topic;
    std::int32_t partition = -1;
    std::int64_t offset = -1;
    std::string key;
  } source;
};

// The record's JSON text (see above). The original bytes are spliced in unchanged when
// they are JSON, so a replay re-publishes exactly what was received.
std::string dead_letter_json(const dead_letter& dl, std::chrono::system_clock::time_point now);

struct dead_letter_options {
  std::string topic = std::string(tresse::kafka::default_dead_letter_topic);
  std::chrono::milliseconds ack_timeout = std::chrono::seconds(30);
};

class dead_letter_producer {
 public:
  dead_letter_producer(std::shared_ptr<tresse::kafka::producer> producer,
                       dead_letter_options options = {});

  // Produces the record and waits for the broker's acknowledgement (acks=all). Transient
  // errors (timeout, broker down) mean: keep the source offset in flight and try again.
  status produce_and_wait(const dead_letter& dl, std::chrono::system_clock::time_point now =
                                                     std::chrono::system_clock::now());

  const std::string& topic() const { return options_.topic; }

 private:
  std::shared_ptr<tresse::kafka::producer> producer_;
  dead_letter_options options_;
};

}  // namespace tresse::dispatcher::kafka
