// `tresse-dispatcher healthcheck`: GET /readyz (or another admin path) of a running dispatcher,
// for container HEALTHCHECKs and compose healthchecks, which then need neither curl nor a shell.
//
//   tresse-dispatcher healthcheck [--address HOST:PORT] [--path /readyz] [--timeout 3s]
//
// The address defaults to admin.listen as the environment gives it (TRESSE_ADMIN_LISTEN), else
// 127.0.0.1:9464; a wildcard host (0.0.0.0, ::) is probed on loopback. Exit 0 when the answer is
// 200, 1 on any other answer, a refused connection or the timeout, 2 on a usage error. The answer's
// body (the /readyz JSON) goes to stdout.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "tresse/common/result.hpp"

namespace tresse::dispatcher::admin {

struct probe_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 9464;
  std::string path = "/readyz";
  std::chrono::milliseconds timeout{3000};  // the whole exchange: connect, request, answer
};

struct probe_answer {
  unsigned status = 0;
  std::string body;
};

// One GET over a fresh connection. A transient error when the connection is refused, breaks or
// the timeout passes.
result<probe_answer> probe(const probe_options& options);

// The subcommand: argv[0] is "healthcheck".
int run_healthcheck_command(int argc, char** argv);

}  // namespace tresse::dispatcher::admin
