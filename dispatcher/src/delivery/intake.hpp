// Intake: a Kafka record becomes its deliveries. The event is parsed once (a record that is
// not a valid event is poison: it goes to the dead-letter topic with the reason); its
// recipients are the business's enabled endpoints subscribed to its type and mode, from the
// registry snapshot (for webhook.test, only the endpoint its data.endpoint_id names); and every
// delivery shares one copy of the exact bytes.
//
// Runs on the Kafka consumer's thread, a batch at a time; reads only the registry snapshot.
//
//   intake in(endpoints, max_event_bytes);
//   auto r = in.take(record);
//   if (r.poison) dead_letter(record, *r.poison); else for (auto& ep : r.recipients) ... r.meta ...
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/context.hpp"
#include "kafka/consumer.hpp"
#include "kafka/dead_letter.hpp"
#include "registry/cache.hpp"

namespace tresse::dispatcher {

// The string member `name` of an event's `data` object ("" when the bytes are not such an
// object or the member is not a string): data.endpoint_id of a test ping, data.id of an
// ordered delivery's resource.
std::string data_string(std::string_view event_json, std::string_view name);

class intake {
 public:
  intake(const registry::cache& endpoints, std::size_t max_event_bytes)
      : endpoints_(endpoints), max_event_bytes_(max_event_bytes) {}

  struct result {
    std::shared_ptr<const event_meta> meta;  // set unless poison
    std::vector<std::shared_ptr<const registry::endpoint>> recipients;  // empty: unmatched
    std::optional<std::string> poison;  // why the record is not a valid event
  };
  // Takes the record's bytes, unless it is poison (then the record is left as it is, for its
  // dead letter).
  result take(kafka::message& record) const;

 private:
  std::vector<std::shared_ptr<const registry::endpoint>> recipients(const events::event& ev) const;

  const registry::cache& endpoints_;
  std::size_t max_event_bytes_;
};

}  // namespace tresse::dispatcher
