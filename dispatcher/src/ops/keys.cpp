// `tresse-dispatcher keys create|list|revoke`: business API keys for the management API. The
// secret (sk_live_… / sk_test_…) is printed once, by create.
#include "api/keys.hpp"

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "ops/commands.hpp"
#include "ops/connect.hpp"
#include "ops/output.hpp"

namespace tresse::dispatcher::ops {
namespace {

using json = nlohmann::json;

struct keys_flags {
  store_flags store;
  std::string business, mode = "live", id;
};

int create(const keys_flags& f) {
  api::key_store store(redis_client(f.store));
  auto k = store.create(f.business, f.mode == "live" ? api::key_mode::live : api::key_mode::test);
  if (!k) return action_error(k.error());
  json j = to_json(k->key);
  j["secret"] = k->secret;
  return print(j);
}

int list(const keys_flags& f) {
  api::key_store store(redis_client(f.store));
  auto ks = store.list(f.business);
  if (!ks) return action_error(ks.error());
  json data = json::array();
  for (const auto& k : *ks) data.push_back(to_json(k));
  return print({{"data", data}});
}

int revoke(const keys_flags& f) {
  api::key_store store(redis_client(f.store));
  auto revoked = store.revoke(f.id);
  if (!revoked) return action_error(revoked.error());
  if (!*revoked) return print_error(1, "not_found", "no key " + f.id);
  return print({{"id", f.id}, {"object", "api_key"}, {"revoked", true}});
}

}  // namespace

void add_keys_command(tresse::cli::program& p) {
  CLI::App& keys = p.command(p.app(), "keys", "business API keys for the management API");
  auto f = std::make_shared<keys_flags>();
  CLI::App& create_cmd =
      p.command(keys, "create", "a new key; prints it once", [f] { return create(*f); });
  create_cmd.add_option("--business", f->business, "the business it acts for")
      ->type_name("ID")
      ->required();
  create_cmd.add_option("--mode", f->mode, "live (sk_live_) or test (sk_test_)")
      ->type_name("live|test")
      ->check(CLI::IsMember({"live", "test"}))
      ->capture_default_str();
  add_redis_flag(create_cmd, f->store);

  CLI::App& list_cmd =
      p.command(keys, "list", "every key (never the secrets)", [f] { return list(*f); });
  list_cmd.add_option("--business", f->business, "only this business's keys")->type_name("ID");
  add_redis_flag(list_cmd, f->store);

  CLI::App& revoke_cmd =
      p.command(keys, "revoke", "revoke a key (kept, marked revoked)", [f] { return revoke(*f); });
  revoke_cmd.add_option("--id", f->id, "the key's id (key_...)")->required();
  add_redis_flag(revoke_cmd, f->store);
}

}  // namespace tresse::dispatcher::ops
