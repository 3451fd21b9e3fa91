#include "admin/admin_server.hpp"

#include <memory>
#include <utility>

namespace tresse::dispatcher {
namespace beast_http = boost::beast::http;

namespace {

// A check that is not configured passes.
bool passes(const std::function<bool()>& check) { return !check || check(); }

}  // namespace

result<http::server> start_admin_server(http::server_options options, metrics& m,
                                        readiness_checks given) {
  options.thread_name = "admin";
  auto checks = std::make_shared<const readiness_checks>(std::move(given));
  m.make_gauge("tresse_build_info", "The running version; always 1", {{"version", TRESSE_VERSION}})
      .set(1);
  const char* ready_help = "1 when the /readyz check of this dependency passes, else 0";
  m.make_callback_gauge("tresse_ready", ready_help,
                        [checks] { return passes(checks->kafka) ? 1.0 : 0.0; },
                        {{"check", "kafka"}});
  m.make_callback_gauge("tresse_ready", ready_help,
                        [checks] { return passes(checks->redis) ? 1.0 : 0.0; },
                        {{"check", "redis"}});
  if (checks->proxy) {
    m.make_callback_gauge("tresse_ready", ready_help,
                          [checks] { return checks->proxy() ? 1.0 : 0.0; }, {{"check", "proxy"}});
  }

  auto handle = [&m, checks](http::request& req) -> boost::asio::awaitable<http::response> {
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
      const bool kafka_ok = passes(checks->kafka);
      const bool redis_ok = passes(checks->redis);
      const bool proxy_ok = passes(checks->proxy);
      const std::string_view kafka = !kafka_ok                ? "unreachable"
                                     : checks->kafka_embedded ? "embedded (not for production)"
                                                              : "ok";
      res.set(beast_http::field::content_type, "application/json");
      const bool ready = kafka_ok && redis_ok && proxy_ok;
      if (!ready) res.result(beast_http::status::service_unavailable);
      res.body() = std::string("{\"ready\": ") + (ready ? "true" : "false") +
                   ", \"kafka\": \"" + std::string(kafka) + "\", \"redis\": \"" +
                   (redis_ok ? "ok" : "unreachable") + "\"" +
                   (checks->proxy ? std::string(", \"proxy\": \"") + (proxy_ok ? "ok" : "failing") + "\""
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
