#include "api/request_metrics.hpp"

#include <array>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>

namespace tresse::dispatcher::api {
namespace {

constexpr std::array<std::string_view, 8> methods = {"GET",   "HEAD",   "POST",    "PUT",
                                                     "PATCH", "DELETE", "OPTIONS", "other"};
constexpr unsigned min_status = 100;
constexpr unsigned max_status = 599;
// One slot per status code, and a last one for anything outside [100, 599].
constexpr std::size_t status_slots = max_status - min_status + 2;

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.starts_with('/')) return out;
  path.remove_prefix(1);
  for (;;) {
    const std::size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) return out;
    path.remove_prefix(slash + 1);
  }
}

bool is_parameter(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

std::size_t method_index(std::string_view method) {
  for (std::size_t i = 0; i + 1 < methods.size(); ++i) {
    if (methods[i] == method) return i;
  }
  return methods.size() - 1;
}

std::size_t status_index(unsigned status) {
  return status < min_status || status > max_status ? status_slots - 1 : status - min_status;
}

}  // namespace

route_table::route_table(std::string_view openapi_json) {
  const auto doc = nlohmann::json::parse(openapi_json, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("paths") || !doc["paths"].is_object()) {
    throw std::invalid_argument("the OpenAPI document has no \"paths\" object");
  }
  for (const auto& [path, item] : doc["paths"].items()) {
    route r{path, {}, 0};
    for (std::string_view segment : split_path(path)) {
      r.segments.emplace_back(segment);
      if (!is_parameter(segment)) ++r.literals;
    }
    routes_.push_back(std::move(r));
  }
}

std::size_t route_table::match(std::string_view path) const {
  path = path.substr(0, path.find('?'));
  const auto segments = split_path(path);
  std::size_t best = routes_.size();
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    const route& r = routes_[i];
    if (r.segments.size() != segments.size()) continue;
    bool matches = true;
    for (std::size_t s = 0; s < segments.size() && matches; ++s) {
      matches = is_parameter(r.segments[s]) ? !segments[s].empty() : r.segments[s] == segments[s];
    }
    if (matches && (best == routes_.size() || r.literals > routes_[best].literals)) best = i;
  }
  return best;
}

const std::string& route_table::name(std::size_t i) const {
  return i < routes_.size() ? routes_[i].name : unmatched_;
}

struct request_metrics::grid {
  explicit grid(route_table r)
      : routes(std::move(r)),
        cells((routes.size() + 1) * methods.size() * status_slots),
        counts(new std::atomic<std::uint64_t>[cells]()) {}

  std::size_t cell(std::size_t route, std::size_t method, std::size_t status) const {
    return (route * methods.size() + method) * status_slots + status;
  }

  route_table routes;
  std::size_t cells;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts;
};

request_metrics::request_metrics(metrics& m, route_table routes)
    : grid_(std::make_shared<grid>(std::move(routes))) {
  m.make_callback_family(
      "tresse_api_requests_total", "Management API requests by route template, method and status",
      [g = grid_] {
        metrics::labelled_values out;
        for (std::size_t r = 0; r <= g->routes.size(); ++r) {
          for (std::size_t me = 0; me < methods.size(); ++me) {
            for (std::size_t st = 0; st < status_slots; ++st) {
              const auto n = g->counts[g->cell(r, me, st)].load(std::memory_order_relaxed);
              if (n == 0) continue;
              const std::string status =
                  st + 1 == status_slots ? "other" : std::to_string(min_status + st);
              out.push_back({{{"route", g->routes.name(r)},
                              {"method", std::string(methods[me])},
                              {"status", status}},
                             static_cast<double>(n)});
            }
          }
        }
        return out;
      },
      grid_->cells, metrics::family_type::counter);
}

void request_metrics::count(std::string_view method, std::string_view target, unsigned status) {
  const std::size_t i =
      grid_->cell(grid_->routes.match(target), method_index(method), status_index(status));
  grid_->counts[i].fetch_add(1, std::memory_order_relaxed);
}

}  // namespace tresse::dispatcher::api
