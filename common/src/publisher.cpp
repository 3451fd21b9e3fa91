#include "tresse/common/publisher.hpp"

#include <nlohmann/json.hpp>

#include "tresse/common/event_catalog.hpp"

namespace tresse::events {

result<event> make_event(const event_fields& fields, std::size_t max_bytes) {
  using ordered = nlohmann::ordered_json;
  ordered data = ordered::parse(fields.data_json, nullptr, /*allow_exceptions=*/false);
  if (!data.is_object()) return fail(error_kind::permanent, "data must be a JSON object");
  ordered doc;
  doc["id"] = fields.id.empty() ? new_event_id() : fields.id;
  doc["type"] = fields.type;
  doc["business_id"] = fields.business_id;
  doc["livemode"] = fields.livemode;
  doc["timestamp"] = format_rfc3339(fields.timestamp.value_or(std::chrono::system_clock::now()));
  doc["data"] = std::move(data);
  // Invalid UTF-8 in a flag value becomes U+FFFD instead of throwing; validation follows.
  return parse_event(doc.dump(-1, ' ', false, ordered::error_handler_t::replace), max_bytes);
}

result<std::unique_ptr<publisher>> publisher::create(publisher_options options) {
  if (options.topic.empty()) return fail(error_kind::permanent, "no topic given");
  auto p = kafka::producer::create({.brokers = options.brokers,
                                    .message_timeout = options.message_timeout,
                                    .extra = options.extra});
  if (!p) return std::unexpected(p.error());
  return std::unique_ptr<publisher>(new publisher(std::move(options), std::move(*p)));
}

result<event> publisher::publish(std::string_view bytes) {
  auto ev = parse_event(bytes, options_.max_event_bytes);
  if (!ev) return ev;
  if (auto st = publish(*ev); !st) return std::unexpected(st.error());
  return ev;
}

status publisher::publish(const event& ev) {
  if (options_.validate_data) {
    if (auto why = check_data(ev)) return fail(error_kind::permanent, *why);
  }
  return producer_->produce(options_.topic, ev.business_id, ev.raw);
}

status publisher::flush(std::chrono::milliseconds timeout) { return producer_->flush(timeout); }

}  // namespace tresse::events
