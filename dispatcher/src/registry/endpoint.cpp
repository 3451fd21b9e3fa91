#include "registry/endpoint.hpp"

#include <algorithm>
#include <array>

#include "registry/endpoint_options.hpp"
#include "tresse/common/event.hpp"
#include "tresse/common/ids.hpp"
#include "tresse/common/json_text.hpp"

namespace tresse::dispatcher::registry {

std::vector<std::string> endpoint::live_secrets(clock::time_point now) const {
  std::vector<std::string> out;
  for_each_live_secret(now, [&out](const std::string& s) {
    out.push_back(s);
    return true;
  });
  return out;
}

bool endpoint::subscribes_to(std::string_view event_type, bool event_livemode) const {
  if (!enabled || livemode != event_livemode) return false;
  return std::any_of(events.begin(), events.end(), [&](const std::string& pattern) {
    return tresse::events::event_type_matches(pattern, event_type);
  });
}

std::string_view to_string(ordering o) {
  return o == ordering::per_resource ? "per_resource" : "none";
}

std::optional<ordering> parse_ordering(std::string_view text) {
  if (text == "none") return ordering::none;
  if (text == "per_resource") return ordering::per_resource;
  return std::nullopt;
}

std::string_view to_string(signature_scheme s) {
  switch (s) {
    case signature_scheme::v1a:
      return "v1a";
    case signature_scheme::v1_and_v1a:
      return "v1,v1a";
    case signature_scheme::v1:
      break;
  }
  return "v1";
}

std::optional<signature_scheme> parse_signature_scheme(std::string_view text) {
  if (text == "v1") return signature_scheme::v1;
  if (text == "v1a") return signature_scheme::v1a;
  if (text == "v1,v1a") return signature_scheme::v1_and_v1a;
  return std::nullopt;
}

bool signs_v1(signature_scheme s) { return s != signature_scheme::v1a; }
bool signs_v1a(signature_scheme s) { return s != signature_scheme::v1; }

bool is_ed25519_key(std::string_view secret) { return secret.starts_with("whsk_"); }

std::string new_endpoint_id(clock::time_point now) { return ids::time_ordered("we_", now); }

std::int64_t to_unix_ms(clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

clock::time_point from_unix_ms(std::int64_t ms) {
  return clock::time_point(
      std::chrono::duration_cast<clock::duration>(std::chrono::milliseconds(ms)));
}

std::string to_json_text(const endpoint& ep, bool include_secret) {
  namespace jt = tresse::json_text;
  using tresse::events::format_rfc3339;
  // Keys in lexical order, as nlohmann::json (std::map) writes them.
  std::string out;
  out.reserve(512);
  out.push_back('{');
  jt::append_key(out, "auth");  // masked: the secret part is never shown
  out += masked_auth_json(ep.auth).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  jt::append_key(out, "business_id");
  jt::append_string(out, ep.business_id);
  jt::append_key(out, "consecutive_failures");
  jt::append_int(out, ep.consecutive_failures);
  jt::append_key(out, "created_at");
  jt::append_string(out, format_rfc3339(ep.created_at));
  jt::append_key(out, "dead_lettered");
  jt::append_int(out, ep.dead_lettered);
  jt::append_key(out, "description");
  jt::append_string(out, ep.description);
  jt::append_key(out, "disabled_reason");
  if (ep.disabled_reason.empty()) {
    out += "null";
  } else {
    jt::append_string(out, ep.disabled_reason);
  }
  jt::append_key(out, "enabled");
  jt::append_bool(out, ep.enabled);
  jt::append_key(out, "events");
  out.push_back('[');
  for (std::size_t i = 0; i < ep.events.size(); ++i) {
    if (i > 0) out.push_back(',');
    jt::append_string(out, ep.events[i]);
  }
  out.push_back(']');
  jt::append_key(out, "failure_count");
  jt::append_int(out, ep.failure_count);
  jt::append_key(out, "headers");
  out.push_back('{');
  for (const auto& [name, value] : ep.headers) {
    jt::append_key(out, name);
    jt::append_string(out, value);
  }
  out.push_back('}');
  jt::append_key(out, "id");
  jt::append_string(out, ep.id);
  jt::append_key(out, "livemode");
  jt::append_bool(out, ep.livemode);
  jt::append_key(out, "object");
  jt::append_string(out, "webhook_endpoint");
  jt::append_key(out, "ordering");
  jt::append_string(out, to_string(ep.order));
  if (include_secret) {
    jt::append_key(out, "previous_secrets");
    out.push_back('[');
    for (const auto& p : ep.previous_secrets) {
      if (is_ed25519_key(p.secret)) continue;  // private: its public half is the receiver's
      if (out.back() != '[') out.push_back(',');
      out.push_back('{');
      jt::append_key(out, "expires_at");
      jt::append_string(out, format_rfc3339(p.expires_at));
      jt::append_key(out, "secret");
      jt::append_string(out, p.secret);
      out.push_back('}');
    }
    out.push_back(']');
  }
  jt::append_key(out, "public_key");
  if (signs_v1a(ep.scheme) && !ep.public_key.empty()) {
    jt::append_string(out, ep.public_key);
  } else {
    out += "null";
  }
  jt::append_key(out, "rate_limit_per_second");
  jt::append_int(out, ep.rate_limit_per_second);
  if (include_secret) {
    jt::append_key(out, "secret");
    if (signs_v1(ep.scheme) && !ep.secret.empty()) {
      jt::append_string(out, ep.secret);
    } else {
      out += "null";
    }
  }
  jt::append_key(out, "signature_scheme");
  jt::append_string(out, to_string(ep.scheme));
  jt::append_key(out, "timeout_seconds");
  if (ep.timeout_seconds == 0) {
    out += "null";
  } else {
    jt::append_int(out, ep.timeout_seconds);
  }
  jt::append_key(out, "tls_client_certificate");
  out += client_certificate_shown(ep.tls_client_certificate)
             .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  jt::append_key(out, "updated_at");
  jt::append_string(out, format_rfc3339(ep.updated_at));
  jt::append_key(out, "url");
  jt::append_string(out, ep.url);
  out.push_back('}');
  return out;
}

nlohmann::json to_json(const endpoint& ep, bool include_secret) {
  return nlohmann::json::parse(to_json_text(ep, include_secret));
}

}  // namespace tresse::dispatcher::registry
