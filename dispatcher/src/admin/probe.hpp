// One GET of a running dispatcher's admin endpoint (/readyz by default): what
// `tresse-dispatcher healthcheck` (ops/healthcheck.cpp) runs for container and compose
// healthchecks, which then need neither curl nor a shell.
//
//   auto answer = admin::probe({.host = "127.0.0.1", .port = 9464});
//   bool ready = answer && answer->status == 200;
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

}  // namespace tresse::dispatcher::admin
