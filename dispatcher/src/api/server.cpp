#include "api/server.hpp"

namespace tresse::dispatcher::api {

result<http::server> start_server(http::server_options options, service& svc,
                                  std::string_view peer_header) {
  options.peer_header = peer_header;
  options.on_rejected = [&svc](const http::request& head,
                               http::response& res) -> boost::asio::awaitable<void> {
    co_await svc.decorate_rejection(head, res);
  };
  auto handle = [&svc](http::request& req) -> boost::asio::awaitable<http::response> {
    co_return co_await svc.handle(req);
  };
  return http::server::start(std::move(options), std::move(handle));
}

}  // namespace tresse::dispatcher::api
