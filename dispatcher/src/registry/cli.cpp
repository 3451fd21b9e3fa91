#include "registry/cli.hpp"

#include <charconv>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.hpp"
#include "health/cli.hpp"
#include "redis/client.hpp"
#include "registry/store.hpp"

namespace tresse::dispatcher::registry {
namespace {

using json = nlohmann::json;

constexpr std::string_view usage =
    "usage: tresse-dispatcher endpoints <create|list|get|update|delete|rotate-secret|health> "
    "[flags]\n"
    "  create --business ID --url URL --events a,b [--description TEXT] [--test-mode]\n"
    "  list --business ID [--limit N] [--cursor ID]\n"
    "  get --id ID\n"
    "  update --id ID [--url URL] [--events a,b] [--description TEXT] [--enabled true|false]\n"
    "  delete --id ID\n"
    "  rotate-secret --id ID [--expires-in SECONDS]\n"
    "  health [--business ID] [ENDPOINT_ID]\n"
    "  common: --redis URL (or $TRESSE_REDIS_URL)\n"
    "          --encryption-key KEY (or $TRESSE_REGISTRY_ENCRYPTION_KEY)\n";

const cli::flag_spec flags_spec = {
    .values = {"--redis", "--business", "--url", "--events", "--description", "--enabled", "--id",
               "--limit", "--cursor", "--expires-in", "--encryption-key"},
    .switches = {"--test-mode"}};

int usage_error(std::string_view message) { return cli::usage_error(usage, message); }
using cli::action_error;
using cli::print;

int not_found(std::string_view id) {
  return cli::print_error(1, "not_found", "no endpoint " + std::string(id));
}

std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    auto comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

template <class Int>
std::optional<Int> parse_int(std::string_view s) {
  Int v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}


}  // namespace

result<store> open_store(const cli::args& a) {
  auto redis = cli::redis_client(a);
  if (!redis) return std::unexpected(redis.error());
  store_options opts;
  std::string key_text =
      a.get("--encryption-key").value_or(cli::env_or("TRESSE_REGISTRY_ENCRYPTION_KEY", ""));
  if (!key_text.empty()) {
    auto box = secret_box::from_text(key_text);
    if (!box) return std::unexpected(box.error());
    opts.encryption = std::move(*box);
  }
  return store(*redis, std::move(opts));
}

int run_endpoints_command(int argc, char** argv) {
  if (argc < 2) return usage_error("missing action");
  std::string_view action = argv[1];
  if (action == "health") return health::run_health_command(argc - 1, argv + 1);
  auto parsed = cli::args::parse(argc, argv, 2, flags_spec);
  if (!parsed) return usage_error(parsed.error().message);
  auto flag = [&](std::string_view name) { return parsed->get(name); };
  auto require = [&](std::string_view name) { return parsed->value(name); };

  static const std::set<std::string_view> actions = {"create", "list",   "get",
                                                     "update", "delete", "rotate-secret"};
  if (!actions.contains(action)) return usage_error("unknown action " + std::string(action));
  bool needs_id = action != "create" && action != "list";
  if (needs_id && require("--id").empty()) return usage_error("--id is required");
  if (!needs_id && require("--business").empty()) return usage_error("--business is required");

  auto opened = open_store(*parsed);
  if (!opened) return usage_error(opened.error().message);
  store& endpoints = *opened;
  std::string id = require("--id");

  if (action == "create") {
    endpoint_spec spec;
    spec.business_id = require("--business");
    spec.url = require("--url");
    spec.events = split_list(require("--events"));
    spec.description = require("--description");
    spec.livemode = !flag("--test-mode").has_value();
    if (spec.url.empty()) return usage_error("--url is required");
    if (spec.events.empty()) return usage_error("--events is required");
    auto ep = endpoints.create(spec);
    if (!ep) return action_error(ep.error());
    return print(to_json(*ep, /*include_secret=*/true));
  }
  if (action == "list") {
    page_request req;
    if (auto l = flag("--limit")) {
      auto n = parse_int<std::size_t>(*l);
      if (!n) return usage_error("--limit must be a number");
      req.limit = *n;
    }
    req.cursor = require("--cursor");
    auto page = endpoints.list(require("--business"), req);
    if (!page) return action_error(page.error());
    json data = json::array();
    for (const auto& ep : page->data) data.push_back(to_json(ep));
    return print({{"data", data},
                  {"has_more", page->has_more},
                  {"next_cursor", page->has_more ? json(page->next_cursor) : json(nullptr)}});
  }
  if (action == "get") {
    auto ep = endpoints.get(id);
    if (!ep) return action_error(ep.error());
    if (!*ep) return not_found(id);
    return print(to_json(**ep));
  }
  if (action == "update") {
    endpoint_update changes;
    changes.url = flag("--url");
    changes.description = flag("--description");
    if (auto e = flag("--events")) changes.events = split_list(*e);
    if (auto e = flag("--enabled")) {
      if (*e != "true" && *e != "false") return usage_error("--enabled must be true or false");
      changes.enabled = *e == "true";
    }
    auto ep = endpoints.update(id, changes);
    if (!ep) return action_error(ep.error());
    if (!*ep) return not_found(id);
    return print(to_json(**ep));
  }
  if (action == "delete") {
    auto removed = endpoints.remove(id);
    if (!removed) return action_error(removed.error());
    if (!*removed) return not_found(id);
    return print({{"id", id}, {"deleted", true}});
  }
  // rotate-secret
  std::chrono::seconds expires_in = std::chrono::hours(24);
  if (auto e = flag("--expires-in")) {
    auto n = parse_int<std::int64_t>(*e);
    if (!n || *n < 0) return usage_error("--expires-in must be a number of seconds");
    expires_in = std::chrono::seconds(*n);
  }
  auto ep = endpoints.rotate_secret(id, expires_in);
  if (!ep) return action_error(ep.error());
  if (!*ep) return not_found(id);
  return print(to_json(**ep, /*include_secret=*/true));
}

}  // namespace tresse::dispatcher::registry
