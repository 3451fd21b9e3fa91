// The ops subcommands of tresse-dispatcher, each registered on the program with its flags:
//
//   tresse-dispatcher endpoints create|list|get|update|delete|rotate-secret|health ...
//   tresse-dispatcher deliveries list --endpoint ID ...
//   tresse-dispatcher keys create|list|revoke ...
//   tresse-dispatcher migrate-keys [--retry-shards N]   (ops/migrate_keys.cpp)
//   tresse-dispatcher healthcheck [--address HOST:PORT] [--path /readyz] [--timeout 3s]
//
// Their output and exit codes: ops/output.hpp.
#pragma once

#include "tresse/cli/program.hpp"

namespace tresse::dispatcher::ops {

void add_endpoints_command(tresse::cli::program& p);
// `endpoints health`, under the `endpoints` command.
void add_endpoint_health_command(tresse::cli::program& p, CLI::App& endpoints);
void add_deliveries_command(tresse::cli::program& p);
void add_keys_command(tresse::cli::program& p);
void add_migrate_keys_command(tresse::cli::program& p);
void add_healthcheck_command(tresse::cli::program& p);

}  // namespace tresse::dispatcher::ops
