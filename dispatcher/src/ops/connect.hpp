// Where the ops subcommands find Redis and the registry's encryption key: --redis URL (else
// $TRESSE_REDIS_URL, else redis://127.0.0.1:6379/0) and --encryption-key KEY (else
// $TRESSE_REGISTRY_ENCRYPTION_KEY; hex or base64 of 32 bytes: the environment is the safer
// place for it, since `ps` shows the command line).
//
//   auto flags = std::make_shared<ops::store_flags>();
//   ops::add_store_flags(cmd, *flags);
//   registry::store endpoints = ops::open_store(*flags, ops::redis_client(*flags));
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "redis/client.hpp"
#include "registry/store.hpp"

namespace tresse::dispatcher::ops {

struct store_flags {
  std::string redis_url = "redis://127.0.0.1:6379/0";
  std::string encryption_key;  // empty: the registry's secrets are not sealed
};

// --redis on `cmd`.
void add_redis_flag(CLI::App& cmd, store_flags& flags);
// --redis and --encryption-key on `cmd`.
void add_store_flags(CLI::App& cmd, store_flags& flags);

// A one-connection client; throws tresse::cli::usage_error for a malformed URL (without its
// password).
std::shared_ptr<redis::client> redis_client(const store_flags& flags);

// The endpoint store over `redis`, sealing with --encryption-key; throws usage_error for a
// malformed key, never naming its value.
registry::store open_store(const store_flags& flags, std::shared_ptr<redis::client> redis);

}  // namespace tresse::dispatcher::ops
