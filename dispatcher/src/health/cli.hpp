// `tresse-dispatcher endpoints health [--business B] [ID]`: per-endpoint health as JSON, merged
// from every running instance's report (health/report.hpp), the shared circuit state, the
// stats counters and the retry backlog in Redis.
#pragma once

namespace tresse::dispatcher::health {

// argv[0] is "health". Exit codes: 0 ok, 1 failed (Redis, not found), 2 usage.
int run_health_command(int argc, char** argv);

}  // namespace tresse::dispatcher::health
