// The admin HTTP endpoint ops scrape and probe (admin.listen):
//   GET /healthz  200 "ok" while the process runs
//   GET /readyz   200 when Kafka and Redis are reachable, else 503; either way a JSON object
//                 {"ready": true, "kafka": "ok", "redis": "ok"}, each part "ok" or "unreachable",
//                 and "kafka": "embedded (not for production)" on the in-process mock cluster
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
  bool kafka_embedded = false;  // kafka.brokers=embedded: said in every answer
};

// Starts serving on `options`; `m` and the checks must outlive the server.
result<http::server> start_admin_server(http::server_options options, const metrics& m,
                                        readiness_checks checks);

}  // namespace tresse::dispatcher
