// The Management API: the Business API's Webhooks endpoints (README "Management API",
// dispatcher/api/openapi.json), with the seed's conventions: business keys as Bearer tokens,
// scoped to one business and one mode; cursor pagination; rate-limit headers on every
// response; errors as {"error": {"code", "message", "status"}}; Idempotency-Key on POST.
//
// Stateless: every request reads and writes Redis (and Kafka for test pings), so any number
// of instances serve it. Every Redis access of a request goes through one pipelined
// non-blocking client (redis::async_client, running the stores' redis::operation round trips),
// so an API thread never waits on Redis. A test ping waits for Kafka's ack (up to
// publish_timeout) on the API thread; that, and replay scans (on the replay runner's own
// threads), is why the API's HTTP server has threads of its own, never the delivery threads.
//
//   api::service svc(deps, {.rate_limit_per_minute = 600});
//   http::response res = co_await svc.handle(req);
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/gate.hpp"
#include "api/idempotency.hpp"
#include "api/ops_view.hpp"
#include "api/page_cache.hpp"
#include "api/replays.hpp"
#include "health/read_cache.hpp"
#include "http/address_guard.hpp"
#include "redis/async_client.hpp"
#include "redis/client.hpp"
#include "registry/store.hpp"
#include "retry/store.hpp"
#include "tresse/common/http_server.hpp"
#include "tresse/common/kafka.hpp"

namespace tresse::dispatcher::api {

// `http::` here is the server side (tresse/common/http_server.hpp); the delivery client's
// units (URL parser, SSRF guard) are dispatcher::http.
namespace http = ::tresse::http;

struct service_options {
  std::uint32_t rate_limit_per_minute = 600;
  bool allow_http_live = false;  // live endpoints may use http:// (else https only)
  // The delivery client's SSRF guard (delivery.allow_private_networks, delivery.allow_list):
  // an endpoint URL whose host is a literal IP it refuses is refused at create and update.
  dispatcher::http::address_guard_options url_guard;
  std::string events_topic = "tresse.events";
  std::chrono::milliseconds publish_timeout = std::chrono::seconds(5);
  std::string openapi_document;  // served at GET /v1/openapi.json
  std::string peer_header = "x-tresse-peer";  // set by the HTTP server (server_options)
  std::optional<registry::secret_box> encryption;  // seals stored Idempotency-Key responses
  // How long an Idempotency-Key in progress holds before it may be retried: longer than a
  // request runs (its slowest step, a test ping's publish, waits publish_timeout), plus a margin.
  std::chrono::seconds idempotency_lease = std::chrono::seconds(60);
  // api.operator_token's SHA-256 (hex): the operators' view (api/ops_view.hpp); empty: off.
  std::string operator_token_sha256;
  std::function<std::chrono::system_clock::time_point()> now = [] {
    return std::chrono::system_clock::now();
  };
};

struct service_deps {
  std::shared_ptr<redis::client> redis;
  registry::store& endpoints;
  retry::store& retries;
  replays& replay_runner;
  tresse::kafka::producer& producer;  // test pings go through the normal pipeline
  ops_sources ops = {};                // what the operators' view reads besides Redis
};

class service {
 public:
  service(service_deps deps, service_options opts);

  boost::asio::awaitable<http::response> handle(const http::request& req);

  // Adds the rate-limit headers to a 413 the HTTP server answered before reading the body
  // (server_options::on_rejected).
  boost::asio::awaitable<void> decorate_rejection(const http::request& head, http::response& res);

  // Whether the operators' view (/console/ops/, /v1/ops/) is on: api.operator_token is set.
  bool ops_enabled() const { return ops_.enabled(); }

 private:
  struct context;
  boost::asio::awaitable<http::response> answer(context& ctx, const credentials& creds,
                                                const admission& a, std::string_view path,
                                                std::string_view query);
  boost::asio::awaitable<http::response> route(context& ctx);
  boost::asio::awaitable<http::response> list_webhooks(context& ctx);
  boost::asio::awaitable<http::response> portal_session_route(context& ctx);
  // /v1/ops/…, with the operator token instead of a business key (after the rate limit).
  boost::asio::awaitable<http::response> ops_route(const http::request& req, std::string_view path,
                                                   std::chrono::system_clock::time_point now);
  // The page cache's key: the caller's business and mode, the query as sent.
  static std::string page_key(const caller& who, std::string_view raw_query);
  // Appends what checks cached page `p` to `c`: its check, then its health_read unless this
  // process read the items' health less than a second ago; returns that health if so.
  std::optional<health::read_cache::entries> add_page_check(redis::command_list& c,
                                                            const page_cache::page& p) const;
  // The answer from cached page `p` when replies r[from...] to its check (and its health_read,
  // unless `healths` holds the items' health) say it is current.
  std::optional<http::response> cached_answer(const page_cache::page& p,
                                              const std::vector<redis::reply>& r, std::size_t from,
                                              std::optional<health::read_cache::entries> healths,
                                              std::chrono::system_clock::time_point now);
  // Each item's `,"health":{…}` member.
  static std::vector<std::string> health_members(const page_cache::page& p,
                                                 const health::read_cache::entries& healths,
                                                 std::chrono::system_clock::time_point now);
  // Who a key (by its digest) was when last admitted: a guess the rate-limit script confirms.
  std::optional<caller> known_caller(const std::string& key_digest) const;
  void remember_caller(const std::string& key_digest, const caller& who);

  service_deps deps_;
  service_options opts_;
  redis::async_client async_redis_;
  gate gate_;
  idempotency idempotency_;
  page_cache pages_;
  health::read_cache health_reads_;  // the pages' health, a second old at most
  ops_view ops_;
  dispatcher::http::address_guard url_guard_;
  static constexpr std::size_t max_callers = 10000;
  mutable std::mutex callers_mutex_;
  std::unordered_map<std::string, caller> callers_;
};

}  // namespace tresse::dispatcher::api
