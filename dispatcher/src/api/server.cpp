#include "api/server.hpp"

namespace tresse::dispatcher::api {

result<http::server> start_server(http::server_options options, service& svc,
                                  std::string_view peer_header, request_metrics& counts,
                                  const console::assets& site) {
  options.peer_header = peer_header;
  options.thread_name = "api";
  options.on_rejected = [&svc, &counts](const http::request& head,
                                        http::response& res) -> boost::asio::awaitable<void> {
    co_await svc.decorate_rejection(head, res);
    counts.count(head.method_string(), head.target(), res.result_int());
  };
  auto handle = [&svc, &counts,
                 &site](http::request& req) -> boost::asio::awaitable<http::response> {
    if (console::assets::handles(req.target())) co_return site.serve(req);
    http::response res = co_await svc.handle(req);
    counts.count(req.method_string(), req.target(), res.result_int());
    co_return res;
  };
  return http::server::start(std::move(options), std::move(handle));
}

}  // namespace tresse::dispatcher::api
