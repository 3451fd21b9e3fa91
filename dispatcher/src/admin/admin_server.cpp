#include "admin/admin_server.hpp"

#include <memory>
#include <utility>

namespace tresse::dispatcher {
namespace beast_http = boost::beast::http;

result<http::server> start_admin_server(http::server_options options, metrics& m,
                                        const readiness& ready) {
  options.thread_name = "admin";
  m.make_gauge("tresse_build_info", "The running version; always 1", {{"version", TRESSE_VERSION}})
      .set(1);
  const char* ready_help = "1 when the /readyz check of this dependency passes, else 0";
  m.make_callback_gauge("tresse_ready", ready_help,
                        [&ready] { return ready.kafka_ok() ? 1.0 : 0.0; }, {{"check", "kafka"}});
  m.make_callback_gauge("tresse_ready", ready_help,
                        [&ready] { return ready.redis_ok() ? 1.0 : 0.0; }, {{"check", "redis"}});
  if (ready.has_proxy()) {
    m.make_callback_gauge("tresse_ready", ready_help,
                          [&ready] { return ready.proxy_ok() ? 1.0 : 0.0; }, {{"check", "proxy"}});
  }

  auto handle = [&m, &ready](http::request& req) -> boost::asio::awaitable<http::response> {
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
      // The background checks' last results: answered at once.
      const bool kafka_ok = ready.kafka_ok();
      const bool redis_ok = ready.redis_ok();
      const bool proxy_ok = ready.proxy_ok();
      const std::string_view kafka = !kafka_ok                 ? "unreachable"
                                     : ready.kafka_embedded() ? "embedded (not for production)"
                                                              : "ok";
      res.set(beast_http::field::content_type, "application/json");
      const bool all_ok = kafka_ok && redis_ok && proxy_ok;
      if (!all_ok) res.result(beast_http::status::service_unavailable);
      res.body() = std::string("{\"ready\": ") + (all_ok ? "true" : "false") +
                   ", \"kafka\": \"" + std::string(kafka) + "\", \"redis\": \"" +
                   (redis_ok ? "ok" : "unreachable") + "\"" +
                   (ready.has_proxy() ? std::string(", \"proxy\": \"") + (proxy_ok ? "ok" : "failing") + "\""
                                  : std::string()) +
                   "}\n";
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
