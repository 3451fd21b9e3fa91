#include "retry/cli.hpp"

#include <charconv>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "cli/args.hpp"
#include "redis/client.hpp"
#include "retry/store.hpp"

namespace tresse::dispatcher::retry {
namespace {

using json = nlohmann::json;

constexpr std::string_view usage =
    "usage: tresse-dispatcher deliveries list --endpoint ID [--redis URL] [--limit N]\n";

}  // namespace

int run_deliveries_command(int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) != "list") {
    return cli::usage_error(usage, "the only action is list");
  }
  auto a = cli::args::parse(argc, argv, 2, {.values = {"--endpoint", "--redis", "--limit"}});
  if (!a) return cli::usage_error(usage, a.error().message);
  std::size_t limit = 20;
  if (auto l = a->get("--limit")) {
    auto [p, ec] = std::from_chars(l->data(), l->data() + l->size(), limit);
    if (ec != std::errc() || p != l->data() + l->size() || limit == 0) {
      return cli::usage_error(usage, "--limit must be a positive number");
    }
  }
  std::string endpoint_id = a->value("--endpoint");
  if (endpoint_id.empty()) return cli::usage_error(usage, "--endpoint is required");
  auto redis = cli::redis_client(*a);
  if (!redis) return cli::usage_error(usage, redis.error().message);
  store retries(*redis);
  auto attempts = retries.list_attempts(endpoint_id, limit);
  if (!attempts) return cli::action_error(attempts.error());
  json data = json::array();
  for (const auto& rec : *attempts) data.push_back(to_json(rec));
  return cli::print({{"data", data}});
}

}  // namespace tresse::dispatcher::retry
