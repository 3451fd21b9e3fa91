#include "admin/admin_server.hpp"

#include <utility>

namespace tresse::dispatcher {
namespace beast_http = boost::beast::http;

result<http::server> start_admin_server(http::server_options options, const metrics& m,
                                        readiness_checks checks) {
  auto handle = [&m, checks = std::move(checks)](
                    http::request& req) -> boost::asio::awaitable<http::response> {
    http::response res{beast_http::status::ok, req.version()};
    res.set(beast_http::field::content_type, "text/plain; charset=utf-8");
    std::string_view target = req.target();
    if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
    if (req.method() != beast_http::verb::get && req.method() != beast_http::verb::head) {
      res.result(beast_http::status::method_not_allowed);
      res.set(beast_http::field::allow, "GET, HEAD");
      res.body() = "method not allowed\n";
    } else if (target == "/healthz") {
      res.body() = "ok\n";
    } else if (target == "/readyz") {
      // The checks block briefly (a PING, a metadata request); they run on the admin thread,
      // never on the delivery threads.
      std::string missing;
      if (checks.kafka && !checks.kafka()) missing += "kafka ";
      if (checks.redis && !checks.redis()) missing += "redis ";
      if (missing.empty()) {
        res.body() = "ready\n";
      } else {
        res.result(beast_http::status::service_unavailable);
        res.body() = "not ready: " + missing + "unreachable\n";
      }
    } else if (target == "/metrics") {
      res.set(beast_http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      res.body() = m.render();
    } else {
      res.result(beast_http::status::not_found);
      res.body() = "not found\n";
    }
    co_return res;
  };
  return http::server::start(std::move(options), std::move(handle));
}

}  // namespace tresse::dispatcher
