// Management API requests in /metrics, by route template, method and status:
//
//   tresse_api_requests_total{route="/v1/webhooks/{id}",method="PATCH",status="200"} 3
//
// The route is the template of the OpenAPI document's path that the request matched, never the
// raw path (one series per endpoint or event id would be unbounded); a path no template matches
// (a scan, a typo) counts as route="unmatched".
//
//   api::route_table routes(api::openapi_document());
//   api::request_metrics counts(stats, routes);
//   counts.count(req.method_string(), req.target(), res.result_int());
//
// Counting is one relaxed atomic increment in a grid allocated up front (routes x methods x
// statuses): no lock and no allocation per request. Only the series counted so far are rendered.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "admin/metrics.hpp"

namespace tresse::dispatcher::api {

// The path templates of an OpenAPI document ("/v1/webhooks/{id}/deliveries/{event_id}").
class route_table {
 public:
  // From the document's "paths". Throws std::invalid_argument (start-up only) when it is not an
  // OpenAPI document.
  explicit route_table(std::string_view openapi_json);

  // The index of the template that `path` (a request target; its query is ignored) matches, or
  // size() when none does. A `{name}` segment matches any one non-empty segment; where two
  // templates match, the one with more literal segments wins.
  std::size_t match(std::string_view path) const;
  std::size_t size() const { return routes_.size(); }
  // The template at `i`, or "unmatched" for size().
  const std::string& name(std::size_t i) const;

 private:
  struct route {
    std::string name;
    std::vector<std::string> segments;  // "{…}" for a parameter
    std::size_t literals = 0;
  };
  std::vector<route> routes_;
  std::string unmatched_ = "unmatched";
};

class request_metrics {
 public:
  // Registers tresse_api_requests_total on `m`. The counts live as long as `m` renders them.
  request_metrics(metrics& m, route_table routes);

  // Counts one answered request. `method` as sent ("GET"; others than the standard methods
  // count as "other"), `target` the request target, `status` the answer's status code.
  void count(std::string_view method, std::string_view target, unsigned status);

 private:
  struct grid;
  std::shared_ptr<grid> grid_;
};

}  // namespace tresse::dispatcher::api
