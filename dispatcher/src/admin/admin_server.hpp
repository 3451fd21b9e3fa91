// The admin HTTP endpoint ops scrape and probe (admin.listen):
//   GET /healthz  200 "ok" while the process runs
//   GET /readyz   200 when Kafka and Redis (and delivery.proxy, when set) are reachable, else
//                 503; either way a JSON object {"ready": true, "kafka": "ok", "redis": "ok"},
//                 each part "ok" or "unreachable", "kafka": "embedded (not for production)" on
//                 the in-process mock cluster, and "proxy": "ok" or "failing" with a proxy
//   GET /metrics  Prometheus text format
// and puts what it knows of the process itself in those metrics:
//   tresse_build_info{version="0.1.0"} 1
//   tresse_ready{check="kafka"} 1     the same checks as /readyz (1 or 0), the last results of
//                                     the background checks (readiness.hpp): a scrape never waits
//   tresse_ready{check="redis"} 1
//   tresse_ready{check="proxy"} 1     only with delivery.proxy
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "admin/metrics.hpp"
#include "admin/readiness.hpp"
#include "tresse/common/http_server.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher {

// Registers the metrics above on `m` and starts serving on `options`; `m` and `ready` must
// outlive the server.
result<http::server> start_admin_server(http::server_options options, metrics& m,
                                        const readiness& ready);

}  // namespace tresse::dispatcher
