// `tresse-dispatcher endpoints ...`: manage endpoints in Redis from a shell. JSON on stdout; the
// secret is printed on create and rotate-secret only (the whpk_ public key always, the Ed25519
// private key never).
#include <chrono>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ops/commands.hpp"
#include "ops/connect.hpp"
#include "ops/output.hpp"
#include "registry/endpoint_options.hpp"
#include "registry/store.hpp"

namespace tresse::dispatcher::ops {
namespace {

using json = nlohmann::json;

struct endpoint_flags {
  store_flags store;
  std::string business, id, url, description, cursor;
  std::vector<std::string> events;
  bool test_mode = false;
  std::optional<std::string> enabled;   // update: "true" or "false"
  std::string ordering = "none";        // "none" or "per_resource" (checked by the option)
  std::string signature_scheme = "v1";  // "v1", "v1a" or "v1,v1a" (checked by the option)
  std::size_t limit = 0;                // list: 0, the store's default
  std::int64_t expires_in = 24 * 3600;
  std::vector<std::string> headers;  // "Name: value" each
  bool no_headers = false;           // update: remove them all
  std::string auth_file;             // JSON, as the API's "auth"
  bool no_auth = false;              // update: remove it
  std::uint32_t timeout_seconds = 0;
  std::string client_certificate_file, client_key_file;  // mTLS, PEM
  bool no_client_certificate = false;                    // update: remove it
};

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// --tls-client-certificate-file and --tls-client-key-file, checked as the API checks them.
result<registry::client_certificate> client_certificate_of(const endpoint_flags& f) {
  if (f.client_certificate_file.empty() != f.client_key_file.empty()) {
    return fail(error_kind::permanent,
                "--tls-client-certificate-file and --tls-client-key-file go together");
  }
  auto cert = read_file(f.client_certificate_file);
  auto key = read_file(f.client_key_file);
  if (!cert || !key) return fail(error_kind::permanent, "cannot read the certificate or key file");
  return registry::client_certificate_from_json({{"certificate", *cert}, {"private_key", *key}});
}

// The --header flags as the endpoint's headers, checked as the API checks them.
result<registry::header_list> headers_of(const endpoint_flags& f) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& h : f.headers) {
    const auto colon = h.find(':');
    if (colon == std::string::npos) {
      return fail(error_kind::permanent, "--header '" + h + "' is not 'Name: value'");
    }
    std::string value = h.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    j[h.substr(0, colon)] = value;
  }
  return registry::headers_from_json(j);
}

// The --auth-file's JSON ({"type": "bearer", "token": ...}): a file, so that the secret is not
// on the command line for `ps` to show.
result<registry::endpoint_auth> auth_of(const endpoint_flags& f) {
  auto text = read_file(f.auth_file);
  if (!text) return fail(error_kind::permanent, "--auth-file: cannot read " + f.auth_file);
  auto j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail(error_kind::permanent, "--auth-file: not JSON");
  return registry::auth_from_json(j);
}

int not_found(std::string_view id) {
  return print_error(1, "not_found", "no endpoint " + std::string(id));
}

registry::store open(const endpoint_flags& f) { return open_store(f.store, redis_client(f.store)); }

int create(const endpoint_flags& f) {
  registry::endpoint_spec spec;
  spec.business_id = f.business;
  spec.url = f.url;
  spec.events = f.events;
  spec.description = f.description;
  spec.livemode = !f.test_mode;
  spec.timeout_seconds = f.timeout_seconds;
  auto headers = headers_of(f);
  if (!headers) return action_error(headers.error());
  spec.headers = std::move(*headers);
  if (!f.auth_file.empty()) {
    auto auth = auth_of(f);
    if (!auth) return action_error(auth.error());
    spec.auth = std::move(*auth);
  }
  if (!f.client_certificate_file.empty() || !f.client_key_file.empty()) {
    auto cert = client_certificate_of(f);
    if (!cert) return action_error(cert.error());
    spec.tls_client_certificate = std::move(*cert);
  }
  spec.order = registry::parse_ordering(f.ordering).value_or(registry::ordering::none);
  spec.scheme =
      registry::parse_signature_scheme(f.signature_scheme).value_or(registry::signature_scheme::v1);
  auto ep = open(f).create(spec);
  if (!ep) return action_error(ep.error());
  return print(to_json(*ep, /*include_secret=*/true));
}

int list(const endpoint_flags& f) {
  registry::page_request req;
  if (f.limit > 0) req.limit = f.limit;
  req.cursor = f.cursor;
  auto page = open(f).list(f.business, req);
  if (!page) return action_error(page.error());
  json data = json::array();
  for (const auto& ep : page->data) data.push_back(to_json(ep));
  return print({{"data", data},
                {"has_more", page->has_more},
                {"next_cursor", page->has_more ? json(page->next_cursor) : json(nullptr)}});
}

int get(const endpoint_flags& f) {
  auto ep = open(f).get(f.id);
  if (!ep) return action_error(ep.error());
  if (!*ep) return not_found(f.id);
  return print(to_json(**ep));
}

// Only the flags given change.
int update(const endpoint_flags& f, const CLI::App& cmd) {
  registry::endpoint_update changes;
  if (cmd.count("--url") > 0) changes.url = f.url;
  if (cmd.count("--description") > 0) changes.description = f.description;
  if (cmd.count("--events") > 0) changes.events = f.events;
  if (f.enabled) changes.enabled = *f.enabled == "true";
  if (cmd.count("--timeout-seconds") > 0) changes.timeout_seconds = f.timeout_seconds;
  if (cmd.count("--header") > 0 || f.no_headers) {
    auto headers = headers_of(f);
    if (!headers) return action_error(headers.error());
    changes.headers = std::move(*headers);
  }
  if (f.no_auth) changes.auth = registry::endpoint_auth{};
  if (!f.auth_file.empty()) {
    auto auth = auth_of(f);
    if (!auth) return action_error(auth.error());
    changes.auth = std::move(*auth);
  }
  if (f.no_client_certificate) changes.tls_client_certificate = registry::client_certificate{};
  if (!f.client_certificate_file.empty() || !f.client_key_file.empty()) {
    auto cert = client_certificate_of(f);
    if (!cert) return action_error(cert.error());
    changes.tls_client_certificate = std::move(*cert);
  }
  if (cmd.count("--ordering") > 0) changes.order = registry::parse_ordering(f.ordering);
  if (cmd.count("--signature-scheme") > 0) {
    changes.scheme = registry::parse_signature_scheme(f.signature_scheme);
  }
  auto ep = open(f).update(f.id, changes);
  if (!ep) return action_error(ep.error());
  if (!*ep) return not_found(f.id);
  return print(to_json(**ep));
}

int remove(const endpoint_flags& f) {
  auto removed = open(f).remove(f.id);
  if (!removed) return action_error(removed.error());
  if (!*removed) return not_found(f.id);
  return print({{"id", f.id}, {"deleted", true}});
}

int rotate_secret(const endpoint_flags& f) {
  auto ep = open(f).rotate_secret(f.id, std::chrono::seconds(f.expires_in));
  if (!ep) return action_error(ep.error());
  if (!*ep) return not_found(f.id);
  return print(to_json(**ep, /*include_secret=*/true));
}

void add_id(CLI::App& cmd, endpoint_flags& f) {
  cmd.add_option("--id", f.id, "the endpoint's id (we_...)")->required();
}

// The delivery options create and update share (registry/endpoint_options.hpp).
void add_options(CLI::App& cmd, endpoint_flags& f) {
  cmd.add_option("--header", f.headers,
                 "an extra request header sent on every attempt (repeat for more; update: "
                 "replaces them all)")
      ->type_name("'NAME: VALUE'")
      ->allow_extra_args(false);
  cmd.add_option("--auth-file", f.auth_file,
                 "JSON file: {\"type\": \"bearer\", \"token\": ...} or {\"type\": \"basic\", "
                 "\"username\": ..., \"password\": ...}; sent as Authorization, sealed at rest")
      ->type_name("FILE");
  cmd.add_option("--tls-client-certificate-file", f.client_certificate_file,
                 "mTLS: PEM certificate chain presented to this endpoint only (with "
                 "--tls-client-key-file); sealed at rest")
      ->type_name("FILE");
  cmd.add_option("--tls-client-key-file", f.client_key_file,
                 "mTLS: the certificate's unencrypted PEM private key")
      ->type_name("FILE");
  cmd.add_option("--timeout-seconds", f.timeout_seconds,
                 "the whole attempt, 1-30 s (0: delivery.timeout)")
      ->type_name("SECONDS")
      ->check(CLI::Range(0, 30));
  cmd.add_option("--signature-scheme", f.signature_scheme,
                 "v1: HMAC with the whsec_ secret; v1a: Ed25519, receivers verify with the "
                 "printed whpk_ public_key; v1,v1a: both (a missing key is generated)")
      ->type_name("v1|v1a|v1,v1a")
      ->check(CLI::IsMember({"v1", "v1a", "v1,v1a"}));
}

void add_ordering(CLI::App& cmd, endpoint_flags& f) {
  cmd.add_option("--ordering", f.ordering,
                 "per_resource: one resource's events (data.id) arrive in publish order, "
                 "each with tresse-sequence")
      ->type_name("none|per_resource")
      ->check(CLI::IsMember({"none", "per_resource"}));
}

void add_events(CLI::App& cmd, endpoint_flags& f) {
  cmd.add_option("--events", f.events,
                 "event types, comma-separated (appointment.*, client.created)")
      ->type_name("a,b")
      ->delimiter(',')
      ->allow_extra_args(false);
}

}  // namespace

void add_endpoints_command(tresse::cli::program& p) {
  CLI::App& endpoints = p.command(p.app(), "endpoints", "manage endpoints in Redis");
  endpoints.footer(
      "Results as JSON on stdout; errors as {\"error\": {\"code\", \"message\"}} on stderr.\n"
      "Exit codes: 0 done, 1 the action failed (Redis unreachable, not found, invalid input),\n"
      "2 bad usage.");

  auto f = std::make_shared<endpoint_flags>();
  CLI::App& create_cmd =
      p.command(endpoints, "create", "create an endpoint; prints its secret once",
                [f] { return create(*f); });
  create_cmd.add_option("--business", f->business, "the business it belongs to")
      ->type_name("ID")
      ->required();
  create_cmd.add_option("--url", f->url, "where its webhooks go")->required();
  add_events(create_cmd, *f);
  create_cmd.get_option("--events")->required();
  create_cmd.add_option("--description", f->description, "free text")->type_name("TEXT");
  create_cmd.add_flag("--test-mode", f->test_mode, "receive the business's test-mode events");
  add_options(create_cmd, *f);
  add_ordering(create_cmd, *f);
  add_store_flags(create_cmd, f->store);

  CLI::App& list_cmd = p.command(endpoints, "list", "a business's endpoints, a page at a time",
                                 [f] { return list(*f); });
  list_cmd.add_option("--business", f->business, "the business")->type_name("ID")->required();
  list_cmd.add_option("--limit", f->limit, "endpoints per page")
      ->type_name("N")
      ->check(tresse::cli::positive());
  list_cmd.add_option("--cursor", f->cursor, "the page after this endpoint id (next_cursor)")
      ->type_name("ID");
  add_store_flags(list_cmd, f->store);

  CLI::App& get_cmd =
      p.command(endpoints, "get", "one endpoint, without its secret", [f] { return get(*f); });
  add_id(get_cmd, *f);
  add_store_flags(get_cmd, f->store);

  // update asks its App which flags were given; the App outlives the action.
  auto update_app = std::make_shared<CLI::App*>();
  CLI::App& update_cmd = p.command(endpoints, "update", "change an endpoint's url, events, ...",
                                   [f, update_app] { return update(*f, **update_app); });
  *update_app = &update_cmd;
  add_id(update_cmd, *f);
  update_cmd.add_option("--url", f->url, "a new url");
  add_events(update_cmd, *f);
  update_cmd.add_option("--description", f->description, "a new description")->type_name("TEXT");
  update_cmd.add_option("--enabled", f->enabled, "enable or disable it")
      ->type_name("true|false")
      ->check(CLI::IsMember({"true", "false"}));
  add_options(update_cmd, *f);
  update_cmd.add_flag("--no-headers", f->no_headers, "remove its extra headers");
  update_cmd.add_flag("--no-auth", f->no_auth, "remove its auth");
  update_cmd.add_flag("--no-tls-client-certificate", f->no_client_certificate,
                      "remove its client certificate");
  add_ordering(update_cmd, *f);
  add_store_flags(update_cmd, f->store);

  CLI::App& delete_cmd =
      p.command(endpoints, "delete", "delete an endpoint", [f] { return remove(*f); });
  add_id(delete_cmd, *f);
  add_store_flags(delete_cmd, f->store);

  CLI::App& rotate_cmd =
      p.command(endpoints, "rotate-secret",
                "a new signing secret; the old one keeps signing beside it until it expires",
                [f] { return rotate_secret(*f); });
  add_id(rotate_cmd, *f);
  rotate_cmd.add_option("--expires-in", f->expires_in, "seconds the previous secret still signs")
      ->type_name("SECONDS")
      ->check(tresse::cli::non_negative())
      ->capture_default_str();
  add_store_flags(rotate_cmd, f->store);

  add_endpoint_health_command(p, endpoints);
}

}  // namespace tresse::dispatcher::ops
