// The admin HTTP endpoint ops scrape and probe (admin.listen):
//   GET /healthz  200 "ok" while the process runs
//   GET /readyz   200 when Kafka and Redis are reachable, else 503 naming what is not
//   GET /metrics  Prometheus text format
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "admin/metrics.hpp"
#include "tresse/common/http_server.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher {

struct readiness_checks {
  std::function<bool()> kafka;  // true when the brokers answer
  std::function<bool()> redis;  // true when Redis answers PING
};

// Starts serving on `options`; `m` and the checks must outlive the server.
result<http::server> start_admin_server(http::server_options options, const metrics& m,
                                        readiness_checks checks);

}  // namespace tresse::dispatcher
