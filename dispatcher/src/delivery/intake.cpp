#include "delivery/intake.hpp"

#include <nlohmann/json.hpp>

#include "delivery/ordered_queue.hpp"
#include "tresse/common/log.hpp"

namespace tresse::dispatcher {

std::string data_string(std::string_view event_json, std::string_view name) {
  auto doc = nlohmann::json::parse(event_json, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return {};
  auto data = doc.find("data");
  if (data == doc.end() || !data->is_object()) return {};
  auto field = data->find(name);
  if (field == data->end() || !field->is_string()) return {};
  return field->get<std::string>();
}

intake::result intake::take(kafka::message& record) const {
  result out;
  auto ev = events::parse_event(record.value, max_event_bytes_);
  if (!ev) {
    log::warn("poison record dead-lettered",
              {{"topic", record.topic}, {"partition", record.partition},
               {"offset", record.offset}, {"reason", ev.error().message}});
    out.poison = "invalid_event: " + ev.error().message;
    return out;
  }
  kafka::dead_letter::source_ref source{record.topic, record.partition, record.offset, record.key};
  out.recipients = recipients(*ev);
  auto meta = std::make_shared<event_meta>();
  meta->id = ev->id;
  meta->type = ev->type;
  meta->business_id = ev->business_id;
  meta->body = std::make_shared<const std::string>(std::move(ev->raw));
  meta->source = std::move(source);
  for (const auto& ep : out.recipients) {
    if (ep->order == registry::ordering::per_resource) {
      meta->resource = ordered::resource_of(*meta->body);  // parsed only for ordered endpoints
      break;
    }
  }
  out.meta = std::move(meta);
  return out;
}

std::vector<std::shared_ptr<const registry::endpoint>> intake::recipients(
    const events::event& ev) const {
  if (ev.type != "webhook.test") return endpoints_.matching(ev.business_id, ev.type, ev.livemode);
  // A test ping (POST /v1/webhooks/{id}/test) names its one endpoint in data.endpoint_id;
  // subscriptions do not apply, the business and mode must.
  const std::string target = data_string(ev.raw, "endpoint_id");
  std::vector<std::shared_ptr<const registry::endpoint>> out;
  if (target.empty()) return out;
  auto ep = endpoints_.find(target);
  if (ep && ep->enabled && ep->business_id == ev.business_id && ep->livemode == ev.livemode) {
    out.push_back(std::move(ep));
  }
  return out;
}

}  // namespace tresse::dispatcher
