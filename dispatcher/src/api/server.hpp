// The Management API's HTTP listener: the shared Beast server (tresse/common/http_server.hpp)
// running api::service on threads of its own. Its handler blocks on Redis, which is why it
// never shares threads with delivery.
#pragma once

#include "api/request_metrics.hpp"
#include "api/service.hpp"
#include "console/assets.hpp"
#include "tresse/common/http_server.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::api {

// Request bodies over options.body_limit (1 MiB by default) are answered 413
// payload_too_large, with the rate-limit headers like every other answer. Every answer, the 413s
// included, is counted in `counts`, which must outlive the server. /console/ is the web
// console's (`site`, which must outlive the server too), served without a key and not counted.
result<http::server> start_server(http::server_options options, service& svc,
                                  std::string_view peer_header, request_metrics& counts,
                                  const console::assets& site);

}  // namespace tresse::dispatcher::api
