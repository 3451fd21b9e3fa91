#include "retry/cli.hpp"

#include <charconv>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "redis/client.hpp"
#include "retry/store.hpp"

namespace tresse::dispatcher::retry {
namespace {

using json = nlohmann::json;

int fail_with(int code, std::string_view kind, std::string_view message) {
  if (code == 2)
    std::cerr << "usage: tresse-dispatcher deliveries list --endpoint ID "
                 "[--redis URL] [--limit N]\n";
  std::cerr << json{{"error", {{"code", kind}, {"message", message}}}}.dump() << "\n";
  return code;
}

}  // namespace

int run_deliveries_command(int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) != "list") {
    return fail_with(2, "usage", "the only action is list");
  }
  const char* env_url = std::getenv("TRESSE_REDIS_URL");
  std::string url = env_url && *env_url ? env_url : "redis://127.0.0.1:6379/0";
  std::string endpoint_id;
  std::size_t limit = 20;
  for (int i = 2; i < argc; ++i) {
    std::string_view f = argv[i];
    if (i + 1 >= argc) return fail_with(2, "usage", std::string(f) + " needs a value");
    std::string_view v = argv[++i];
    if (f == "--endpoint") {
      endpoint_id = v;
    } else if (f == "--redis") {
      url = v;
    } else if (f == "--limit") {
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), limit);
      if (ec != std::errc() || p != v.data() + v.size() || limit == 0) {
        return fail_with(2, "usage", "--limit must be a positive number");
      }
    } else {
      return fail_with(2, "usage", "unknown flag " + std::string(f));
    }
  }
  if (endpoint_id.empty()) return fail_with(2, "usage", "--endpoint is required");
  auto opts = redis::parse_url(url);
  if (!opts) return fail_with(2, "usage", opts.error().message);
  opts->pool_size = 1;
  store retries(std::make_shared<redis::client>(*opts));
  auto attempts = retries.list_attempts(endpoint_id, limit);
  if (!attempts) {
    return fail_with(
        1, attempts.error().kind == error_kind::transient ? "unavailable" : "invalid_request",
        attempts.error().message);
  }
  json data = json::array();
  for (const auto& a : *attempts) data.push_back(to_json(a));
  std::cout << json{{"data", data}}.dump(2) << "\n";
  return 0;
}

}  // namespace tresse::dispatcher::retry
