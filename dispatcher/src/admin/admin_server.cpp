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
      const bool kafka_ok = !checks.kafka || checks.kafka();
      const bool redis_ok = !checks.redis || checks.redis();
      const std::string_view kafka = !kafka_ok               ? "unreachable"
                                     : checks.kafka_embedded ? "embedded (not for production)"
                                                             : "ok";
      res.set(beast_http::field::content_type, "application/json");
      if (!kafka_ok || !redis_ok) res.result(beast_http::status::service_unavailable);
      res.body() = std::string("{\"ready\": ") + (kafka_ok && redis_ok ? "true" : "false") +
                   ", \"kafka\": \"" + std::string(kafka) + "\", \"redis\": \"" +
                   (redis_ok ? "ok" : "unreachable") + "\"}\n";
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
