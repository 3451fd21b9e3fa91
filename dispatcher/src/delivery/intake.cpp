#include "delivery/intake.hpp"

#include "delivery/ordered_queue.hpp"
#include "tresse/common/json_scan.hpp"
#include "tresse/common/log.hpp"

namespace tresse::dispatcher {

namespace {

// Reads data.<name> in the one scan that validates the whole document, as a DOM parse did
// (nlohmann's, 25 k instructions an ordered event), without building one. A repeated member
// counts as its last occurrence, as in that DOM.
class data_member final : public json_scan::handler {
 public:
  explicit data_member(std::string_view name) : name_(name) {}
  std::string value;

  bool root(json_scan::kind k) override { return k == json_scan::kind::object; }
  bool key(std::string_view k) override {
    in_data_ = k == "data";
    return true;
  }
  bool member(const json_scan::value& v) override {
    if (in_data_) value.clear();  // a later "data" replaces an earlier one
    in_data_ = in_data_ && v.k == json_scan::kind::object;
    return true;
  }
  bool descend() override { return in_data_; }
  bool inner_key(std::string_view k) override {
    is_name_ = k == name_;
    return true;
  }
  bool inner_member(const json_scan::value& v) override {
    if (!is_name_) return true;
    if (v.k == json_scan::kind::string) {
      value.assign(v.text);
    } else {
      value.clear();
    }
    return true;
  }

 private:
  std::string_view name_;
  bool in_data_ = false;
  bool is_name_ = false;
};

}  // namespace

std::string data_string(std::string_view event_json, std::string_view name) {
  data_member reader(name);
  if (!json_scan::scan(event_json, &reader)) return {};
  return std::move(reader.value);
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
