#include "delivery/intake.hpp"

#include <nlohmann/json.hpp>

#include "delivery/ordered_queue.hpp"
#include "tresse/common/log.hpp"

namespace tresse::dispatcher {

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
  auto doc = nlohmann::json::parse(ev.raw, nullptr, /*allow_exceptions=*/false);
  std::string target;
  if (doc.is_object()) {
    auto data = doc.find("data");
    if (data != doc.end() && data->is_object()) {
      auto id = data->find("endpoint_id");
      if (id != data->end() && id->is_string()) target = id->get<std::string>();
    }
  }
  std::vector<std::shared_ptr<const registry::endpoint>> out;
  if (target.empty()) return out;
  auto ep = endpoints_.find(target);
  if (ep && ep->enabled && ep->business_id == ev.business_id && ep->livemode == ev.livemode) {
    out.push_back(std::move(ep));
  }
  return out;
}

}  // namespace tresse::dispatcher
