// `tresse-dispatcher deliveries list --endpoint ID [--redis URL] [--limit N]`: an endpoint's
// attempt log, newest first, as {"data": [attempt, ...]} on stdout (see retry::to_json).
// --redis defaults to $TRESSE_REDIS_URL, else redis://127.0.0.1:6379/0; --limit to 20.
#pragma once

namespace tresse::dispatcher::retry {

// argv[0] is "deliveries", argv[1] the action ("list"). Returns 0 on success, 1 when Redis
// could not be read, 2 on a usage error.
int run_deliveries_command(int argc, char** argv);

}  // namespace tresse::dispatcher::retry
