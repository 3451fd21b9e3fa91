// `tresse-dispatcher deliveries list --endpoint ID [--limit N]`: an endpoint's attempt log,
// newest first, as {"data": [attempt, ...]} on stdout (see retry::to_json).
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "ops/commands.hpp"
#include "ops/connect.hpp"
#include "ops/output.hpp"
#include "retry/store.hpp"

namespace tresse::dispatcher::ops {
namespace {

struct deliveries_flags {
  store_flags store;
  std::string endpoint;
  std::size_t limit = 20;
};

int list(const deliveries_flags& f) {
  retry::store retries(redis_client(f.store));
  auto attempts = retries.list_attempts(f.endpoint, f.limit);
  if (!attempts) return action_error(attempts.error());
  nlohmann::json data = nlohmann::json::array();
  for (const auto& rec : *attempts) data.push_back(to_json(rec));
  return print({{"data", data}});
}

}  // namespace

void add_deliveries_command(tresse::cli::program& p) {
  CLI::App& deliveries = p.command(p.app(), "deliveries", "read an endpoint's attempt log");
  auto f = std::make_shared<deliveries_flags>();
  CLI::App& list_cmd = p.command(deliveries, "list", "an endpoint's attempts, newest first",
                                 [f] { return list(*f); });
  list_cmd.add_option("--endpoint", f->endpoint, "the endpoint (we_...)")
      ->type_name("ID")
      ->required();
  list_cmd.add_option("--limit", f->limit, "attempts to show")
      ->type_name("N")
      ->check(tresse::cli::positive())
      ->capture_default_str();
  add_redis_flag(list_cmd, f->store);
}

}  // namespace tresse::dispatcher::ops
