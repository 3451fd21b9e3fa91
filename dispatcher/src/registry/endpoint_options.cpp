#include "registry/endpoint_options.hpp"

#include <algorithm>
#include <array>
#include <string_view>

#include "http/header_syntax.hpp"
#include "registry/secret_box.hpp"
#include "tresse/common/event.hpp"

namespace tresse::dispatcher::registry {
namespace {

using json = nlohmann::json;
using namespace std::string_view_literals;

std::unexpected<error> bad(std::string_view field, std::string_view why) {
  return fail(error_kind::permanent, "field '" + std::string(field) + "' " + std::string(why));
}

// Set by the dispatcher on every request, or meaningful to one hop only (RFC 9110 §7.6.1).
bool reserved_name(std::string_view name) {
  constexpr std::array<std::string_view, 2> prefixes = {"webhook-"sv, "tresse-"sv};
  for (auto p : prefixes) {
    if (name.size() >= p.size() && http::iequals(name.substr(0, p.size()), p)) return true;
  }
  constexpr std::array<std::string_view, 14> names = {
      "content-type"sv, "content-length"sv, "user-agent"sv,          "host"sv,
      "authorization"sv, "transfer-encoding"sv, "connection"sv,      "keep-alive"sv,
      "proxy-connection"sv, "proxy-authorization"sv, "proxy-authenticate"sv, "te"sv,
      "trailer"sv,      "upgrade"sv};
  return std::any_of(names.begin(), names.end(),
                     [&](std::string_view n) { return http::iequals(name, n); });
}

bool no_controls(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7F;
  });
}

bool visible_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7F; });
}

std::string masked(std::string_view secret) {
  if (secret.size() < 12) return "\u2026";
  return "\u2026" + std::string(secret.substr(secret.size() - 4));
}

}  // namespace

status validate_headers(const header_list& headers) {
  if (headers.size() > max_extra_headers) return bad("headers", "has more than 20 entries");
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < headers.size(); ++i) {
    const auto& [name, value] = headers[i];
    if (!http::is_token(name)) {
      return bad("headers", "has a name that is not an HTTP token: '" + name + "'");
    }
    if (reserved_name(name)) {
      return bad("headers", "may not set '" + name +
                                "': the dispatcher sets it, or it is reserved (use 'auth' for "
                                "Authorization)");
    }
    if (!http::is_field_value(value)) {
      return bad("headers", "has a value with CR, LF or NUL for '" + name + "'");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (http::iequals(headers[j].first, name)) {
        return bad("headers", "names '" + name + "' twice (names are case-insensitive)");
      }
    }
    bytes += name.size() + value.size();
  }
  if (bytes > max_extra_header_bytes) return bad("headers", "is longer than 4096 bytes in all");
  return {};
}

status validate_auth(const endpoint_auth& auth) {
  switch (auth.type) {
    case endpoint_auth::kind::none:
      return {};
    case endpoint_auth::kind::bearer:
      if (auth.token.empty() || auth.token.size() > 4096 || !visible_ascii(auth.token)) {
        return bad("auth", "needs a 'token' of 1-4096 visible ASCII characters");
      }
      return {};
    case endpoint_auth::kind::basic:
      if (auth.username.empty() || auth.username.size() > 256 || !no_controls(auth.username) ||
          auth.username.find(':') != std::string::npos) {
        return bad("auth", "needs a 'username' of 1-256 characters, without ':' or controls");
      }
      if (auth.password.empty() || auth.password.size() > 1024 || !no_controls(auth.password)) {
        return bad("auth", "needs a 'password' of 1-1024 characters, without controls");
      }
      return {};
  }
  return bad("auth", "has an unknown type");
}

status validate_timeout(std::uint32_t seconds) {
  if (seconds > max_timeout_seconds) {
    return bad("timeout_seconds", "must be an integer from 1 to 30");
  }
  return {};
}

result<header_list> headers_from_json(const json& j) {
  if (!j.is_object()) return bad("headers", "must be an object of strings");
  header_list out;
  for (const auto& [name, value] : j.items()) {
    if (!value.is_string()) return bad("headers", "must be an object of strings");
    out.emplace_back(name, value.get<std::string>());
  }
  if (auto s = validate_headers(out); !s) return std::unexpected(s.error());
  return out;
}

json headers_to_json(const header_list& headers) {
  json j = json::object();
  for (const auto& [name, value] : headers) j[name] = value;
  return j;
}

result<endpoint_auth> auth_from_json(const json& j) {
  endpoint_auth a;
  if (j.is_null()) return a;
  if (!j.is_object()) return bad("auth", "must be an object or null");
  auto string_field = [&j](const char* k) -> const std::string* {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
  };
  const std::string* type = string_field("type");
  if (type && *type == "bearer") {
    a.type = endpoint_auth::kind::bearer;
    for (const auto& [k, v] : j.items()) {
      if (k != "type" && k != "token") return bad("auth", "has an unknown field '" + k + "'");
    }
    if (const auto* t = string_field("token")) a.token = *t;
  } else if (type && *type == "basic") {
    a.type = endpoint_auth::kind::basic;
    for (const auto& [k, v] : j.items()) {
      if (k != "type" && k != "username" && k != "password") {
        return bad("auth", "has an unknown field '" + k + "'");
      }
    }
    if (const auto* u = string_field("username")) a.username = *u;
    if (const auto* p = string_field("password")) a.password = *p;
  } else {
    return bad("auth", "needs 'type' \"bearer\" or \"basic\"");
  }
  if (auto s = validate_auth(a); !s) return std::unexpected(s.error());
  return a;
}

json auth_to_json(const endpoint_auth& auth) {
  switch (auth.type) {
    case endpoint_auth::kind::bearer:
      return {{"type", "bearer"}, {"token", auth.token}};
    case endpoint_auth::kind::basic:
      return {{"type", "basic"}, {"username", auth.username}, {"password", auth.password}};
    case endpoint_auth::kind::none:
      break;
  }
  return nullptr;
}

json masked_auth_json(const endpoint_auth& auth) {
  switch (auth.type) {
    case endpoint_auth::kind::bearer:
      return {{"type", "bearer"}, {"token", masked(auth.token)}};
    case endpoint_auth::kind::basic:
      return {{"type", "basic"}, {"username", auth.username}, {"password", masked(auth.password)}};
    case endpoint_auth::kind::none:
      break;
  }
  return nullptr;
}

result<client_certificate> client_certificate_from_json(const json& j) {
  client_certificate c;
  if (j.is_null()) return c;
  const auto cert = j.is_object() ? j.find("certificate") : j.end();
  const auto key = j.is_object() ? j.find("private_key") : j.end();
  if (!j.is_object() || j.size() != 2 || cert == j.end() || key == j.end() ||
      !cert->is_string() || !key->is_string()) {
    return bad("tls_client_certificate",
               "must be null or {\"certificate\": PEM chain, \"private_key\": PEM}");
  }
  auto id = http::client_identity::parse(cert->get_ref<const std::string&>(),
                                         key->get_ref<const std::string&>());
  if (!id) return std::unexpected(id.error());
  c.certificate = cert->get<std::string>();
  c.private_key = key->get<std::string>();
  c.identity = std::move(*id);
  return c;
}

json client_certificate_to_json(const client_certificate& c) {
  if (c.empty()) return nullptr;
  return {{"certificate", c.certificate}, {"private_key", c.private_key}};
}

json client_certificate_shown(const client_certificate& c) {
  if (!c.identity) return nullptr;
  const auto& info = c.identity->info();
  return {{"subject", info.subject},
          {"fingerprint_sha256", info.fingerprint_sha256},
          {"expires_at", tresse::events::format_rfc3339(info.expires_at)}};
}

std::string authorization_value(const endpoint_auth& auth) {
  switch (auth.type) {
    case endpoint_auth::kind::bearer:
      return "Bearer " + auth.token;
    case endpoint_auth::kind::basic:
      return "Basic " + base64_encode(auth.username + ":" + auth.password);
    case endpoint_auth::kind::none:
      break;
  }
  return {};
}

}  // namespace tresse::dispatcher::registry
