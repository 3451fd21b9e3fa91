// `tresse-dispatcher endpoints ...`: manage endpoints in Redis from a shell. JSON on stdout;
// the secret is printed on create and rotate-secret only. Errors as
// {"error": {"code": "...", "message": "..."}} on stderr.
//
//   tresse-dispatcher endpoints create --business biz_1 --url https://example.com/hook
//       --events appointment.*,client.created [--description TEXT] [--test-mode]
//   tresse-dispatcher endpoints list --business biz_1 [--limit N] [--cursor ID]
//   tresse-dispatcher endpoints get --id we_...
//   tresse-dispatcher endpoints update --id we_... [--url U] [--events a,b] [--description D]
//       [--enabled true|false]
//   tresse-dispatcher endpoints delete --id we_...
//   tresse-dispatcher endpoints rotate-secret --id we_... [--expires-in SECONDS]
//
// Every action takes --redis URL (default $TRESSE_REDIS_URL, else redis://127.0.0.1:6379/0)
// and --encryption-key KEY (default $TRESSE_REGISTRY_ENCRYPTION_KEY; base64 of 32 bytes or 64
// hex digits; the environment is the safer place for it).
#pragma once

#include "cli/args.hpp"
#include "registry/store.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::registry {

// argv[0] is "endpoints", argv[1] the action. Returns 0 on success, 1 when the action failed
// (Redis unreachable, not found, invalid input), 2 on a usage error.
int run_endpoints_command(int argc, char** argv);

// The endpoint store the ops subcommands use: --redis URL (or $TRESSE_REDIS_URL) and
// --encryption-key KEY (or $TRESSE_REGISTRY_ENCRYPTION_KEY). A permanent error for a malformed
// URL or key.
result<store> open_store(const cli::args& a);

}  // namespace tresse::dispatcher::registry
