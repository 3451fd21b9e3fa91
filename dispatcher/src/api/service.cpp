#include "api/service.hpp"

#include <algorithm>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <cctype>
#include <charconv>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "api/portal_sessions.hpp"
#include "health/merged.hpp"
#include "delivery/ordered_queue.hpp"
#include "http/url.hpp"
#include "registry/endpoint_options.hpp"
#include "stats/series.hpp"
#include "tresse/common/event.hpp"
#include "tresse/common/event_catalog.hpp"
#include "tresse/common/log.hpp"
#include "tresse/common/percent_encoding.hpp"
#include "tresse/common/publisher.hpp"

namespace tresse::dispatcher::api {
namespace {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using registry::clock;

constexpr std::size_t default_limit = 25;
constexpr std::size_t max_limit = 100;
constexpr std::int64_t max_previous_expiry_s = 7 * 24 * 3600;
constexpr std::uint32_t max_rate_limit_per_second = 10000;
constexpr auto max_replay_window = std::chrono::hours(24 * 30);

const std::map<std::string_view, std::string_view> event_descriptions = {
    {"appointment.created", "An appointment was booked."},
    {"appointment.updated", "An appointment's details changed (notes, service, staff, price)."},
    {"appointment.rescheduled", "An appointment moved to another time."},
    {"appointment.canceled", "An appointment was canceled by the client or the business."},
    {"appointment.completed", "An appointment took place and was marked completed."},
    {"appointment.no_show", "The client did not come to an appointment."},
    {"client.created", "A client was added to the business."},
    {"client.updated", "A client's details changed."},
    {"client.deleted", "A client was deleted."},
    {"webhook.test", "A test ping, sent on request (POST /v1/webhooks/{id}/test)."},
};

http::response json_response(unsigned status, const json& body) {
  http::response res{static_cast<boost::beast::http::status>(status), 11};
  res.set(boost::beast::http::field::content_type, "application/json");
  res.body() = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return res;
}

http::response error_response(unsigned status, std::string_view code, std::string_view message) {
  return json_response(status, {{"error", {{"code", code}, {"message", message}, {"status", status}}}});
}

http::response invalid(std::string_view message) {
  return error_response(400, "invalid_request", message);
}

http::response not_found(std::string_view what) {
  return error_response(404, "not_found", what);
}

http::response method_not_allowed(std::string_view allow) {
  auto res = error_response(405, "method_not_allowed", "this path accepts " + std::string(allow));
  res.set(boost::beast::http::field::allow, allow);
  return res;
}

// Redis down is the client's cue to retry; anything else unexpected is ours.
http::response store_failure(const error& e, std::string_view what) {
  if (e.kind == error_kind::transient) {
    return error_response(503, "service_unavailable",
                          "the webhook store is unreachable; try again shortly");
  }
  log::error("management API failure", {{"operation", what}, {"error", e.message}});
  return error_response(500, "internal_error", "an internal error occurred");
}

// Paths and query strings, '+' read as a space (tresse/common/percent_encoding.hpp).
std::optional<std::string> percent_decode(std::string_view s) {
  return tresse::percent_decode(s, {.plus_is_space = true});
}

// An RFC 3339 date-time in years 2000 to 2100. The range is checked on the text, before the
// conversion: system_clock counts nanoseconds, and years far from 1970 (0000, 9999) would wrap.
std::optional<clock::time_point> parse_time(const json& v) {
  if (!v.is_string()) return std::nullopt;
  const auto& text = v.get_ref<const std::string&>();
  if (!tresse::events::is_rfc3339(text)) return std::nullopt;
  if (text.compare(0, 4, "2000") < 0 || text.compare(0, 4, "2100") > 0) return std::nullopt;
  return tresse::events::parse_rfc3339(text);
}

struct page_params {
  std::size_t limit = default_limit;
  std::string after;  // the decoded cursor: the last id of the previous page
};

json page_json(json data, bool has_more, const std::string& last_id) {
  return {{"data", std::move(data)},
          {"has_more", has_more},
          {"next_cursor", has_more ? json("cur_" + last_id) : json(nullptr)}};
}

// One page of attempts, newest first by id (time-ordered), so that a cursor stays valid while
// attempts are added.
json attempts_page(std::vector<retry::attempt_record>& all, const page_params& page,
                   const std::function<bool(const retry::attempt_record&)>& keep) {
  std::sort(all.begin(), all.end(), [](const auto& x, const auto& y) { return x.id > y.id; });
  json data = json::array();
  bool more = false;
  std::string last;
  for (const auto& at : all) {
    if ((!page.after.empty() && at.id >= page.after) || !keep(at)) continue;
    if (data.size() == page.limit) {
      more = true;
      break;
    }
    data.push_back(retry::to_json(at));
    last = at.id;
  }
  return page_json(std::move(data), more, last);
}

}  // namespace

struct service::context {
  const http::request& req;
  std::vector<std::string> path;  // the segments after "/v1"
  std::map<std::string, std::string> query;
  caller who;
  clock::time_point now;
  std::string_view raw_query;  // as sent: part of the page cache's key

  verb method() const { return req.method(); }

  // Unknown query parameters are refused, so a typo is never silently ignored.
  std::optional<http::response> allow_query(std::initializer_list<std::string_view> names) const {
    for (const auto& [k, v] : query) {
      bool known = false;
      for (auto n : names) known = known || n == k;
      if (!known) return invalid("unknown query parameter '" + k + "'");
    }
    return std::nullopt;
  }

  std::optional<http::response> read_page(page_params& p) const {
    if (auto it = query.find("limit"); it != query.end()) {
      const std::string& v = it->second;
      std::size_t n = 0;
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || ptr != v.data() + v.size() || n < 1 || n > max_limit) {
        return invalid("limit must be an integer from 1 to 100");
      }
      p.limit = n;
    }
    if (auto it = query.find("cursor"); it != query.end()) {
      const std::string& v = it->second;
      // Cursors carry an id or an event type name.
      std::string_view rest = std::string_view(v).substr(std::min<std::size_t>(4, v.size()));
      bool ok = v.starts_with("cur_") && !rest.empty() && rest.size() <= 128 &&
                std::all_of(rest.begin(), rest.end(), [](char ch) {
                  return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' ||
                         ch == '.';
                });
      if (!ok) {
        return invalid("cursor is not a cursor this API returned");
      }
      p.after = v.substr(4);
    }
    return std::nullopt;
  }

  // GET …/stats's since, until (RFC 3339; default: the hour up to now) and step (seconds,
  // default 60), as the steps to read.
  std::optional<http::response> read_stats_window(stats::window& w) const {
    clock::time_point until = now;
    clock::time_point since;
    for (const char* name : {"since", "until"}) {
      auto it = query.find(name);
      if (it == query.end()) continue;
      auto t = parse_time(json(it->second));
      if (!t) return invalid(std::string(name) + " must be an RFC 3339 date-time in years 2000-2100");
      (std::string_view(name) == "since" ? since : until) = *t;
    }
    if (!query.contains("since")) since = until - std::chrono::hours(1);
    std::int64_t step = 60;
    if (auto it = query.find("step"); it != query.end()) {
      const std::string& v = it->second;
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), step);
      if (ec != std::errc() || ptr != v.data() + v.size()) {
        return invalid("step must be an integer number of seconds");
      }
    }
    auto got = stats::window_of(since, until, std::chrono::seconds(step));
    if (!got) return invalid(got.error());
    w = *got;
    return std::nullopt;
  }

  // The body as a JSON object with only `allowed` fields; an empty body is {} when
  // `empty_ok`.
  std::optional<http::response> read_body(json& out, std::initializer_list<std::string_view> allowed,
                                          bool empty_ok) const {
    const std::string& b = req.body();
    bool blank = b.find_first_not_of(" \t\r\n") == std::string::npos;
    if (blank) {
      if (!empty_ok) return invalid("the request body must be a JSON object");
      out = json::object();
      return std::nullopt;
    }
    out = json::parse(b, nullptr, /*allow_exceptions=*/false);
    if (out.is_discarded()) return invalid("the request body is not valid JSON");
    if (!out.is_object()) return invalid("the request body must be a JSON object");
    for (const auto& [k, v] : out.items()) {
      bool known = false;
      for (auto n : allowed) known = known || n == k;
      if (!known) return invalid("unknown field '" + k + "'");
    }
    return std::nullopt;
  }
};

service::service(service_deps deps, service_options opts)
    : deps_(std::move(deps)),
      opts_(std::move(opts)),
      async_redis_(deps_.redis->config()),
      gate_(async_redis_, {.limit_per_minute = opts_.rate_limit_per_minute}),
      idempotency_(deps_.redis, opts_.encryption, std::chrono::hours(24),
                   opts_.idempotency_lease),
      ops_(opts_.operator_token_sha256, deps_.ops) {
  auto guard = dispatcher::http::address_guard::create(opts_.url_guard);
  if (!guard) throw std::invalid_argument(guard.error().message);  // at start-up only
  url_guard_ = std::move(*guard);
}

namespace {

void set_rate_headers(http::response& res, const admission& a) {
  res.set("X-RateLimit-Limit", std::to_string(a.limit));
  res.set("X-RateLimit-Remaining", std::to_string(a.remaining));
  res.set("X-RateLimit-Reset", std::to_string(a.reset));
  if (!a.allowed()) res.set(boost::beast::http::field::retry_after, std::to_string(a.retry_after));
}

// The endpoint fields a POST or PATCH may carry, checked for type and range; `spec_out`
// receives what was given.
std::optional<http::response> read_endpoint_fields(const json& body, registry::endpoint_update& u) {
  if (auto it = body.find("url"); it != body.end()) {
    if (!it->is_string()) return invalid("field 'url' must be a string");
    u.url = it->get<std::string>();
  }
  if (auto it = body.find("events"); it != body.end()) {
    if (!it->is_array()) return invalid("field 'events' must be an array of strings");
    std::vector<std::string> events;
    for (const auto& e : *it) {
      if (!e.is_string()) return invalid("field 'events' must be an array of strings");
      events.push_back(e.get<std::string>());
    }
    if (events.empty()) return invalid("field 'events' must not be empty");
    u.events = std::move(events);
  }
  if (auto it = body.find("description"); it != body.end()) {
    if (!it->is_string()) return invalid("field 'description' must be a string");
    u.description = it->get<std::string>();
  }
  if (auto it = body.find("enabled"); it != body.end()) {
    if (!it->is_boolean()) return invalid("field 'enabled' must be a boolean");
    u.enabled = it->get<bool>();
  }
  if (auto it = body.find("rate_limit_per_second"); it != body.end()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 0 ||
        it->get<std::int64_t>() > max_rate_limit_per_second) {
      return invalid("field 'rate_limit_per_second' must be an integer from 0 to 10000");
    }
    u.rate_limit_per_second = static_cast<std::uint32_t>(it->get<std::int64_t>());
  }
  if (auto it = body.find("headers"); it != body.end()) {
    auto h = registry::headers_from_json(*it);
    if (!h) return invalid(h.error().message);
    u.headers = std::move(*h);
  }
  if (auto it = body.find("auth"); it != body.end()) {
    auto a = registry::auth_from_json(*it);
    if (!a) return invalid(a.error().message);
    u.auth = std::move(*a);
  }
  if (auto it = body.find("tls_client_certificate"); it != body.end()) {
    auto c = registry::client_certificate_from_json(*it);
    if (!c) return invalid(c.error().message);
    u.tls_client_certificate = std::move(*c);
  }
  if (auto it = body.find("timeout_seconds"); it != body.end()) {
    if (it->is_null()) {
      u.timeout_seconds = 0;  // back to delivery.timeout
    } else if (!it->is_number_integer() || it->get<std::int64_t>() < 1 ||
               it->get<std::int64_t>() > registry::max_timeout_seconds) {
      return invalid("field 'timeout_seconds' must be an integer from 1 to 30, or null");
    } else {
      u.timeout_seconds = static_cast<std::uint32_t>(it->get<std::int64_t>());
    }
  }
  if (auto it = body.find("ordering"); it != body.end()) {
    const auto order =
        it->is_string() ? registry::parse_ordering(it->get<std::string>()) : std::nullopt;
    if (!order) return invalid("field 'ordering' must be \"none\" or \"per_resource\"");
    u.order = *order;
  }
  if (auto it = body.find("signature_scheme"); it != body.end()) {
    const auto scheme =
        it->is_string() ? registry::parse_signature_scheme(it->get<std::string>()) : std::nullopt;
    if (!scheme) {
      return invalid("field 'signature_scheme' must be \"v1\", \"v1a\" or \"v1,v1a\"");
    }
    u.scheme = *scheme;
  }
  return std::nullopt;
}

// The fields a POST /v1/webhooks or a PATCH of one may carry.
const std::initializer_list<std::string_view> endpoint_fields = {
    "url",     "events", "description",    "enabled", "rate_limit_per_second",
    "headers", "auth",   "timeout_seconds", "tls_client_certificate", "ordering",
    "signature_scheme"};

// An endpoint URL is one the delivery client can post to: its own parser decides (scheme and
// host case-insensitive; no user-info, no '%' in the host, ports 1-65535). Live endpoints need
// https unless allowed. A literal IP the SSRF guard refuses would fail every attempt, so it is
// refused now with the reason; a host name is checked at connect (it may resolve anywhere).
std::optional<http::response> check_url(const std::string& url, bool livemode,
                                        bool allow_http_live,
                                        const dispatcher::http::address_guard& guard) {
  const auto u = dispatcher::http::parse_url(url);
  if (!u) return invalid("field 'url' must be an absolute http(s) URL: " + u.error().message);
  if (!u->tls && livemode && !allow_http_live) {
    return invalid("field 'url' must use https:// for a live endpoint");
  }
  if (u->host_is_ip) {
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(u->host, ec);
    if (!ec) {
      if (const auto why = guard.check(address)) {
        return invalid("field 'url' is a " + std::string(*why) +
                       " address, which webhooks are not delivered to (the dispatcher's "
                       "delivery.allow_private_networks and delivery.allow_list decide)");
      }
    }
  }
  return std::nullopt;
}

// Two credentials are ambiguous: they are refused (answer()), never decided by header order.
bool several_credentials(const http::request& req) {
  return req.count(boost::beast::http::field::authorization) > 1 || req.count("X-API-Key") > 1;
}

// A registry write's failure: bad input is the client's (400, naming the field), the rest is
// ours.
http::response write_failure(const error& e, std::string_view what) {
  if (e.kind == error_kind::permanent) return invalid(e.message);
  return store_failure(e, what);
}

// The endpoint as GET /v1/webhooks/{id} shows it: with its `health`, read in one round trip.
asio::awaitable<result<json>> with_health(redis::async_client& redis, const registry::endpoint& ep,
                                          clock::time_point now) {
  const std::vector<std::string> ids{ep.id};
  redis::request read;
  health::add_read(read.commands, ids);
  redis::replies got = co_await redis::run(redis, read);
  if (!got) co_return std::unexpected(got.error());
  const auto views = health::from_replies(*got, 0, ids);
  json body = registry::to_json(ep);
  body["health"] =
      health::to_api_json(health::merge(ep.enabled, views.views[0], views.open_until[0], now));
  co_return body;
}

}  // namespace

asio::awaitable<void> service::decorate_rejection(const http::request& head,
                                                  http::response& res) {
  const auto creds =
      read_credentials(head[boost::beast::http::field::authorization], head["X-API-Key"]);
  const std::string peer(head[opts_.peer_header]);
  const auto now = opts_.now();
  const auto a = co_await gate_.admit(creds, peer, now);
  set_rate_headers(res, a ? *a : gate_.uncounted(now));
}

asio::awaitable<http::response> service::handle(const http::request& req) {
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  std::string_view query =
      target.find('?') == std::string_view::npos ? "" : target.substr(target.find('?') + 1);

  context ctx{req, {}, {}, {}, opts_.now(), query};
  const auto creds =
      read_credentials(req[boost::beast::http::field::authorization], req["X-API-Key"]);
  const std::string peer(req[opts_.peer_header]);
  const std::string key_digest =
      creds.type == credentials::kind::business_key ? creds.digest : std::string();

  // GET /v1/webhooks by a key seen before whose page is cached: the key's count
  // (gate::known_key_commands, plain commands, no script) and the page's check in one round
  // trip. The key's record still says who is calling; anything but the same caller, allowed,
  // with the page unchanged, goes on below (counted once, unless the key is no longer valid:
  // see gate.hpp).
  std::optional<admission> early;
  std::optional<caller> known;
  if (req.method() == verb::get && path == "/v1/webhooks" && !key_digest.empty() &&
      !several_credentials(req)) {
    known = known_caller(key_digest);
  }
  std::shared_ptr<const page_cache::page> cached;
  if (known) cached = pages_.find(page_key(*known, query), ctx.now);
  if (cached) {
    redis::request both;
    both.commands = gate::known_key_commands(key_digest, ctx.now);
    std::optional<health::read_cache::entries> healths = add_page_check(both.commands, *cached);
    redis::replies got = co_await redis::run(async_redis_, both);
    if (!got) {
      auto res = store_failure(got.error(), "rate limit");
      set_rate_headers(res, gate_.uncounted(ctx.now));
      co_return res;
    }
    auto a = gate_.admission_from_known(*got, 0, ctx.now);
    if (a && *a) {
      const admission& counted = **a;
      if (counted.allowed() && counted.who->key_id == known->key_id &&
          counted.who->business_id == known->business_id && counted.who->mode == known->mode) {
        if (auto res = cached_answer(*cached, *got, gate::known_key_replies, healths, ctx.now)) {
          set_rate_headers(*res, counted);
          co_return std::move(*res);
        }
      }
      early = counted;
    }
  }

  result<admission> admitted;
  if (early) {
    admitted = *early;
  } else {
    admitted = co_await gate_.admit(creds, peer, ctx.now);
  }
  if (admitted && admitted->who && !key_digest.empty()) remember_caller(key_digest, *admitted->who);
  if (!admitted) {
    // Redis is where requests are counted: this one could not be, and is not served either.
    auto res = store_failure(admitted.error(), "rate limit");
    set_rate_headers(res, gate_.uncounted(ctx.now));
    co_return res;
  }
  http::response res = co_await answer(ctx, creds, *admitted, path, query);
  set_rate_headers(res, *admitted);
  co_return res;
}

// Everything after the rate-limit check: authentication, parsing, Idempotency-Key, the route.
asio::awaitable<http::response> service::answer(context& ctx, const credentials& creds,
                                                const admission& a, std::string_view path,
                                                std::string_view query) {
  const http::request& req = ctx.req;
  if (!a.allowed()) {
    co_return error_response(
        429, "rate_limited",
        "too many requests; retry after " + std::to_string(a.retry_after) + " seconds");
  }
  if (path == "/v1/openapi.json") {
    if (req.method() != verb::get && req.method() != verb::head)
      co_return method_not_allowed("GET");
    auto res = json_response(200, json::object());
    res.body() = opts_.openapi_document;
    co_return res;
  }
  if (path == "/v1/ops" || path.starts_with("/v1/ops/")) {
    http::response answered = co_await ops_route(req, path, ctx.now);
    co_return answered;
  }
  // Refused rather than letting the first one win: a proxy that adds its own header would
  // otherwise decide who the caller is by header order.
  if (several_credentials(req)) {
    co_return invalid("send one Authorization (or X-API-Key) header, not several");
  }
  switch (creds.type) {
    case credentials::kind::none:
      co_return error_response(401, "authentication_required",
                               "send a business API key as 'Authorization: Bearer sk_live_…'");
    case credentials::kind::developer_key:
      co_return error_response(403, "forbidden",
                               "developer keys (dk_) are for the Public API; the Webhooks "
                               "endpoints need a business key (sk_live_ or sk_test_) as "
                               "'Authorization: Bearer'");
    case credentials::kind::portal_session:
      if (!a.who) {
        co_return error_response(401, "invalid_api_key",
                                 "the portal session is unknown or has expired");
      }
      break;
    case credentials::kind::malformed:
    case credentials::kind::business_key:
      if (!a.who) {
        co_return error_response(401, "invalid_api_key", "the API key is unknown or revoked");
      }
  }
  ctx.who = *a.who;

  if (!path.starts_with("/v1/")) co_return not_found("no such path");
  std::string_view rest = path.substr(4);
  while (!rest.empty()) {
    auto slash = rest.find('/');
    auto seg = percent_decode(rest.substr(0, slash));
    if (!seg || seg->empty()) co_return not_found("no such path");
    ctx.path.push_back(std::move(*seg));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    auto eq = pair.find('=');
    auto k = percent_decode(pair.substr(0, eq));
    auto v = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (!k || !v) co_return invalid("the query string is not valid percent-encoding");
    if (!k->empty()) ctx.query[*k] = *v;
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  if (ctx.who.portal_session && !ctx.path.empty()) {
    if (auto why = portal_sessions::refusal(ctx.who.read_only, req.method(), ctx.path[0])) {
      co_return error_response(403, "forbidden", *why);
    }
  }

  if (req.count("Idempotency-Key") > 1) {
    co_return invalid("send one Idempotency-Key header, not several");
  }
  bool idempotent = req.method() == verb::post && req.count("Idempotency-Key") > 0;
  if (!idempotent) {
    http::response res = co_await route(ctx);
    co_return res;
  }
  std::string idem_key(req["Idempotency-Key"]);
  if (!valid_idempotency_key(idem_key)) {
    co_return invalid("Idempotency-Key must be 1 to 255 printable ASCII characters");
  }
  std::string fingerprint =
      std::string(req.method_string()) + " " + std::string(path) + " " + key_hash(req.body());
  auto begin = idempotency_.begin_op(ctx.who.key_id, idem_key, fingerprint);
  auto start = co_await redis::run(async_redis_, begin);
  if (!start) co_return store_failure(start.error(), "idempotency");
  switch (start->what) {
    case idempotent_start::state::mismatch:
      co_return error_response(409, "idempotency_conflict",
                               "this Idempotency-Key was used with a different request");
    case idempotent_start::state::in_progress:
      co_return error_response(409, "idempotency_conflict",
                               "a request with this Idempotency-Key is still in progress");
    case idempotent_start::state::replay: {
      auto res = json_response(start->status, json::object());
      res.body() = start->body;
      res.set("Idempotent-Replayed", "true");
      co_return res;
    }
    case idempotent_start::state::fresh:
      break;
  }
  http::response res = co_await route(ctx);
  auto finish = idempotency_.finish_op(ctx.who.key_id, idem_key, res.result_int(), res.body());
  auto finished = co_await redis::run(async_redis_, finish);
  if (!finished) {
    log::warn("idempotency record not saved", {{"error", finished.error().message}});
  }
  co_return res;
}

std::string service::page_key(const caller& who, std::string_view raw_query) {
  std::string key = who.business_id;
  key += who.livemode() ? "\nlive\n" : "\ntest\n";
  key += raw_query;
  return key;
}

std::optional<health::read_cache::entries> service::add_page_check(
    redis::command_list& c, const page_cache::page& p) const {
  std::optional<health::read_cache::entries> healths = health_reads_.find_all(p.ids);
  c.append(p.check.commands);
  if (!healths) c.append(p.health_read);
  return healths;
}

std::optional<http::response> service::cached_answer(
    const page_cache::page& p, const std::vector<redis::reply>& r, std::size_t from,
    std::optional<health::read_cache::entries> healths, clock::time_point now) {
  // r[from]: the version's GET, then one HMGET per item (page_cache::page::check), then the
  // items' health unless `healths` holds it (page_cache::page::health_read).
  const std::size_t expected =
      from + p.check.commands.size() + (healths ? 0 : p.health_read.size());
  if (r.size() != expected || !redis::first_error(r)) return std::nullopt;
  if (registry::store::version_of(r[from]) != p.version) return std::nullopt;
  std::vector<page_cache::counters> counts;
  counts.reserve(p.items.size());
  registry::endpoint scratch;
  for (std::size_t i = 0; i < p.items.size(); ++i) {
    registry::store::apply_counters(scratch, r[from + 1 + i]);
    counts.push_back(page_cache::counters::of(scratch));
  }
  if (!healths) {
    healths = health_reads_.put(p.ids, health::from_replies(r, from + p.check.commands.size(), p.ids));
  }
  auto res = json_response(200, json::object());
  res.body() = page_cache::body(p, counts, health_members(p, *healths, now));
  return res;
}

std::vector<std::string> service::health_members(const page_cache::page& p,
                                                 const health::read_cache::entries& healths,
                                                 clock::time_point now) {
  std::vector<std::string> out;
  out.reserve(p.items.size());
  for (std::size_t i = 0; i < p.items.size() && i < healths.size(); ++i) {
    out.emplace_back(",\"health\":").append(healths[i]->api_json(p.items[i].enabled, now));
  }
  return out;
}

std::optional<caller> service::known_caller(const std::string& key_digest) const {
  std::lock_guard lock(callers_mutex_);
  auto it = callers_.find(key_digest);
  if (it == callers_.end()) return std::nullopt;
  return it->second;
}

void service::remember_caller(const std::string& key_digest, const caller& who) {
  std::lock_guard lock(callers_mutex_);
  if (callers_.size() >= max_callers && !callers_.contains(key_digest)) callers_.clear();
  callers_.insert_or_assign(key_digest, who);
}

asio::awaitable<http::response> service::list_webhooks(context& c) {
  if (auto e = c.allow_query({"limit", "cursor"})) co_return *e;
  page_params page;
  if (auto e = c.read_page(page)) co_return *e;
  // Written as text, not through a JSON DOM, and from the page cache while the endpoints'
  // version says nothing changed: this is the busiest answer of the API.
  std::string key = page_key(c.who, c.raw_query);
  std::shared_ptr<const page_cache::page> cached = pages_.find(key, c.now);
  if (cached) {
    // The version and the cached endpoints' counters, in one round trip of plain commands.
    redis::request check;
    std::optional<health::read_cache::entries> healths = add_page_check(check.commands, *cached);
    redis::replies fresh = co_await redis::run(async_redis_, check);
    if (auto st = redis::status_of(fresh); !st) {
      co_return store_failure(st.error(), "list endpoints");
    }
    if (auto res = cached_answer(*cached, *fresh, 0, healths, c.now)) co_return std::move(*res);
  }
  std::vector<page_cache::counters> counts;

  // The version first: a page read after it is at least as new, so a cached page is never
  // older than its version says.
  auto version_op = deps_.endpoints.version_op();
  auto version = co_await redis::run(async_redis_, version_op);
  if (!version) co_return store_failure(version.error(), "list endpoints");
  auto built = std::make_shared<page_cache::page>();
  built->version = *version;
  built->built_at = c.now;
  bool cacheable = true;
  // The registry lists a business's endpoints of both modes; keep this key's mode, reading on
  // until the page is full.
  std::string after = page.after;
  result<registry::endpoint_page> pg;
  redis::operation<registry::endpoint_page> list_op;
  for (;;) {
    list_op = deps_.endpoints.list_op(
        c.who.business_id, {.limit = std::min(max_limit, page.limit + 1), .cursor = after});
    // Assigned, not declared, in the loop: g++ 12 mishandles loop-scoped locals initialised
    // from co_await (see delivery/engine.hpp).
    pg = co_await redis::run(async_redis_, list_op);
    if (!pg) co_return store_failure(pg.error(), "list endpoints");
    for (auto& ep : pg->data) {
      if (ep.livemode != c.who.livemode()) continue;
      if (built->items.size() == page.limit) {
        built->has_more = true;
        break;
      }
      built->items.push_back(page_cache::render(ep));
      cacheable = cacheable && built->items.back().split;
      built->last_id = ep.id;
      counts.push_back(page_cache::counters::of(ep));
    }
    if (built->has_more || !pg->has_more) break;
    after = pg->next_cursor;
  }
  for (const auto& it : built->items) built->ids.push_back(it.id);
  health::add_read(built->health_read, built->ids);
  std::optional<health::read_cache::entries> healths = health_reads_.find_all(built->ids);
  if (!healths) {
    redis::request health_read;
    health_read.commands.append(built->health_read);
    redis::replies read = co_await redis::run(async_redis_, health_read);
    if (!read) co_return store_failure(read.error(), "list endpoints");
    healths = health_reads_.put(built->ids, health::from_replies(*read, 0, built->ids));
  }
  auto res = json_response(200, json::object());
  res.body() = page_cache::body(*built, counts, health_members(*built, *healths, c.now));
  if (cacheable) {
    built->check.commands.add(registry::store::version_command());
    for (const auto& it : built->items) {
      built->check.commands.add(registry::store::counters_command(it.id));
    }
    pages_.put(key, std::move(built));
  }
  co_return res;
}

// Off (404, as any unknown path) without api.operator_token. Rate-limited like the rest: the
// gate counted the request per client address (an operator token is no business key).
asio::awaitable<http::response> service::ops_route(const http::request& req, std::string_view path,
                                                   clock::time_point now) {
  if (!ops_.enabled()) co_return not_found("no such path");
  if (several_credentials(req)) {
    co_return invalid("send one Authorization header, not several");
  }
  if (!ops_.authorized(req[boost::beast::http::field::authorization])) {
    co_return error_response(401, "invalid_api_key",
                             "the operators' view needs the operator token (api.operator_token) "
                             "as 'Authorization: Bearer'");
  }
  if (path != "/v1/ops/overview") co_return not_found("no such path");
  if (req.method() != verb::get) co_return method_not_allowed("GET");
  if (req.target().find('?') != std::string_view::npos) {
    co_return invalid("this path takes no query parameters");
  }
  auto op = ops_.overview_op(now);
  auto got = co_await redis::run(async_redis_, op);
  if (!got) co_return store_failure(got.error(), "ops overview");
  co_return json_response(200, *got);
}

// POST /v1/portal_sessions (a business key: portal_sessions::refusal), and
// GET /v1/portal_sessions/current (the session presented), which the console reads to know
// whether to show write controls.
asio::awaitable<http::response> service::portal_session_route(context& c) {
  const auto& p = c.path;
  if (p.size() == 2 && p[1] == "current") {
    if (c.method() != verb::get) co_return method_not_allowed("GET");
    if (auto e = c.allow_query({})) co_return *e;
    const auto creds =
        read_credentials(c.req[boost::beast::http::field::authorization], c.req["X-API-Key"]);
    if (creds.type != credentials::kind::portal_session) {
      co_return not_found("this request was not made with a portal session");
    }
    auto op = portal_sessions::get_op(creds.token);
    auto got = co_await redis::run(async_redis_, op);
    if (!got) co_return store_failure(got.error(), "get portal session");
    if (!*got) co_return not_found("this portal session has expired");
    co_return json_response(200, **got);
  }
  if (p.size() != 1) co_return not_found("no such path");
  if (c.method() != verb::post) co_return method_not_allowed("POST");
  if (auto e = c.allow_query({})) co_return *e;
  json body;
  if (auto e = c.read_body(body, {"read_only", "ttl_seconds"}, true)) co_return *e;
  bool read_only = false;
  if (auto it = body.find("read_only"); it != body.end()) {
    if (!it->is_boolean()) co_return invalid("field 'read_only' must be a boolean");
    read_only = it->get<bool>();
  }
  std::chrono::seconds ttl = portal_sessions::default_ttl;
  if (auto it = body.find("ttl_seconds"); it != body.end()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 1 ||
        it->get<std::int64_t>() > portal_sessions::max_ttl.count()) {
      co_return invalid("field 'ttl_seconds' must be an integer from 1 to 86400");
    }
    ttl = std::chrono::seconds(it->get<std::int64_t>());
  }
  const std::string_view host = c.req[boost::beast::http::field::host];
  if (!portal_sessions::valid_host(host)) {
    co_return invalid("the Host header must be a host name or address with an optional port");
  }
  auto op = portal_sessions::create_op(c.who.business_id, c.who.mode, c.who.key_id, read_only,
                                       ttl, c.now);
  auto made = co_await redis::run(async_redis_, op);
  if (!made) co_return store_failure(made.error(), "create portal session");
  if (made->key_revoked) {  // revoked while the session was made: removed again
    co_return error_response(401, "invalid_api_key", "the API key is unknown or revoked");
  }
  co_return json_response(201, {{"object", "portal_session"},
                                {"id", made->id},
                                {"url", portal_sessions::console_url(host, c.req["X-Forwarded-Proto"],
                                                                     made->token)},
                                {"livemode", c.who.livemode()},
                                {"read_only", made->read_only},
                                {"expires_at", tresse::events::format_rfc3339(made->expires_at)}});
}

asio::awaitable<http::response> service::route(context& c) {
  const auto& p = c.path;
  const verb m = c.method();
  const caller& who = c.who;

  if (p.size() == 1 && p[0] == "event_types") {
    if (m != verb::get) co_return method_not_allowed("GET");
    if (auto e = c.allow_query({"limit", "cursor"})) co_return *e;
    page_params page;
    if (auto e = c.read_page(page)) co_return *e;
    json data = json::array();
    bool more = false;
    std::string last;
    // In the documented order; the cursor is the last name shown.
    const auto& types = tresse::events::known_types;
    auto from = types.begin();
    if (!page.after.empty()) {
      from = std::find(types.begin(), types.end(), page.after);
      if (from == types.end()) co_return invalid("cursor is not a cursor this API returned");
      ++from;
    }
    for (auto it = from; it != types.end(); ++it) {
      std::string_view type = *it;
      if (data.size() == page.limit) {
        more = true;
        break;
      }
      auto d = event_descriptions.find(type);
      const auto* entry = tresse::events::catalog_entry_for(type);  // every known type has one
      data.push_back({{"object", "event_type"},
                      {"name", type},
                      {"description", d == event_descriptions.end() ? "" : d->second},
                      {"schema", entry ? entry->schema : json(nullptr)},
                      {"example", entry ? entry->example : json(nullptr)}});
      last = type;
    }
    co_return json_response(200, page_json(std::move(data), more, last));
  }

  if (p.size() == 1 && p[0] == "webhooks") {
    if (m == verb::get) {
      http::response listed = co_await list_webhooks(c);
      co_return listed;
    }
    if (m == verb::post) {
      if (auto e = c.allow_query({})) co_return *e;
      json body;
      if (auto e = c.read_body(body, endpoint_fields, false)) {
        co_return *e;
      }
      if (!body.contains("url")) co_return invalid("field 'url' is required");
      if (!body.contains("events")) co_return invalid("field 'events' is required");
      registry::endpoint_update fields;
      if (auto e = read_endpoint_fields(body, fields)) co_return *e;
      if (auto e = check_url(*fields.url, who.livemode(), opts_.allow_http_live, url_guard_))
        co_return *e;
      registry::endpoint_spec spec;
      spec.business_id = who.business_id;
      spec.url = *fields.url;
      spec.events = *fields.events;
      spec.livemode = who.livemode();
      spec.description = fields.description.value_or("");
      spec.rate_limit_per_second = fields.rate_limit_per_second.value_or(0);
      spec.order = fields.order.value_or(registry::ordering::none);
      spec.enabled = fields.enabled.value_or(true);
      spec.headers = fields.headers.value_or(registry::header_list{});
      spec.auth = fields.auth.value_or(registry::endpoint_auth{});
      spec.timeout_seconds = fields.timeout_seconds.value_or(0);
      spec.tls_client_certificate =
          fields.tls_client_certificate.value_or(registry::client_certificate{});
      spec.scheme = fields.scheme.value_or(registry::signature_scheme::v1);
      auto op = deps_.endpoints.create_op(spec);
      auto ep = co_await redis::run(async_redis_, op);
      if (!ep) co_return write_failure(ep.error(), "create endpoint");
      co_return json_response(201, registry::to_json(*ep, /*include_secret=*/true));
    }
    co_return method_not_allowed("GET, POST");
  }

  if (!p.empty() && p[0] == "portal_sessions") {
    http::response answered = co_await portal_session_route(c);
    co_return answered;
  }

  if (p.size() == 2 && p[0] == "replays") {
    if (m != verb::get) co_return method_not_allowed("GET");
    if (auto e = c.allow_query({})) co_return *e;
    if (!tresse::events::is_valid_id(p[1])) co_return not_found("no replay '" + p[1] + "'");
    auto op = replays::get_op(p[1], who.business_id, who.livemode());
    auto r = co_await redis::run(async_redis_, op);
    if (!r) co_return store_failure(r.error(), "get replay");
    if (!*r) co_return not_found("no replay '" + p[1] + "'");
    co_return json_response(200, **r);
  }

  if (p.size() < 2 || p.size() > 5 || p[0] != "webhooks") co_return not_found("no such path");

  // Everything below is about one endpoint the caller owns, in the caller's mode; any other
  // endpoint is indistinguishable from a missing one.
  const std::string& id = p[1];
  std::string missing = "no webhook endpoint '" + id + "'";
  if (!tresse::events::is_valid_id(id)) co_return not_found(missing);
  auto load = deps_.endpoints.get_op(id);
  auto loaded = co_await redis::run(async_redis_, load);
  if (!loaded) co_return store_failure(loaded.error(), "get endpoint");
  if (!*loaded || (*loaded)->business_id != who.business_id ||
      (*loaded)->livemode != who.livemode()) {
    co_return not_found(missing);
  }
  const registry::endpoint& ep = **loaded;

  if (p.size() == 2) {
    if (auto e = c.allow_query({})) co_return *e;
    if (m == verb::get) {
      auto body = co_await with_health(async_redis_, ep, c.now);
      if (!body) co_return store_failure(body.error(), "get endpoint health");
      co_return json_response(200, *body);
    }
    if (m == verb::delete_) {
      auto op = deps_.endpoints.remove_op(id);
      auto removed = co_await redis::run(async_redis_, op);
      if (!removed) co_return store_failure(removed.error(), "delete endpoint");
      if (!*removed) co_return not_found(missing);
      co_return json_response(200, {{"id", id}, {"object", "webhook_endpoint"}, {"deleted", true}});
    }
    if (m == verb::patch) {
      json body;
      if (auto e = c.read_body(body, endpoint_fields, false)) {
        co_return *e;
      }
      if (body.empty()) co_return invalid("give at least one field to change");
      registry::endpoint_update changes;
      if (auto e = read_endpoint_fields(body, changes)) co_return *e;
      if (changes.url) {
        if (auto e = check_url(*changes.url, ep.livemode, opts_.allow_http_live, url_guard_))
          co_return *e;
      }
      auto op = deps_.endpoints.update_op(id, changes);
      auto updated = co_await redis::run(async_redis_, op);
      if (!updated) co_return write_failure(updated.error(), "update endpoint");
      if (!*updated) co_return not_found(missing);
      // As GET shows it (the change is made: a failed health read is a 503 to retry).
      auto shown = co_await with_health(async_redis_, **updated, c.now);
      if (!shown) co_return store_failure(shown.error(), "get endpoint health");
      co_return json_response(200, *shown);
    }
    co_return method_not_allowed("GET, PATCH, DELETE");
  }

  const std::string& action = p[2];
  if (p.size() == 3 && action == "rotate_secret") {
    if (m != verb::post) co_return method_not_allowed("POST");
    if (auto e = c.allow_query({})) co_return *e;
    json body;
    if (auto e = c.read_body(body, {"previous_expires_in"}, true)) co_return *e;
    std::int64_t expires_in = 24 * 3600;
    if (auto it = body.find("previous_expires_in"); it != body.end()) {
      if (!it->is_number_integer() || it->get<std::int64_t>() < 0 ||
          it->get<std::int64_t>() > max_previous_expiry_s) {
        co_return invalid(
            "field 'previous_expires_in' must be an integer from 0 to 604800 seconds");
      }
      expires_in = it->get<std::int64_t>();
    }
    auto op = deps_.endpoints.rotate_secret_op(id, std::chrono::seconds(expires_in));
    auto rotated = co_await redis::run(async_redis_, op);
    if (!rotated) co_return store_failure(rotated.error(), "rotate secret");
    if (!*rotated) co_return not_found(missing);
    co_return json_response(200, registry::to_json(**rotated, /*include_secret=*/true));
  }

  if (p.size() == 3 && action == "ordered_backlog") {
    if (m != verb::get) co_return method_not_allowed("GET");
    if (auto e = c.allow_query({})) co_return *e;
    auto op = ordered::backlog_op(id, deps_.retries.shards());
    auto b = co_await redis::run(async_redis_, op);
    if (!b) co_return store_failure(b.error(), "ordered backlog");
    json oldest = nullptr;
    if (b->oldest_queued_at) oldest = tresse::events::format_rfc3339(*b->oldest_queued_at);
    co_return json_response(200, {{"object", "ordered_backlog"},
                                  {"endpoint_id", id},
                                  {"ordering", registry::to_string(ep.order)},
                                  {"waiting", b->waiting},
                                  {"oldest_queued_at", oldest}});
  }

  if (p.size() == 3 && action == "test") {
    if (m != verb::post) co_return method_not_allowed("POST");
    if (auto e = c.allow_query({})) co_return *e;
    json body;
    if (auto e = c.read_body(body, {}, true)) co_return *e;
    if (!ep.enabled) co_return invalid("the endpoint is disabled; enable it before testing");
    auto ev = tresse::events::make_event({.type = "webhook.test",
                                          .business_id = ep.business_id,
                                          .data_json = json{{"endpoint_id", ep.id}}.dump(),
                                          .livemode = ep.livemode,
                                          .timestamp = c.now});
    if (!ev) co_return store_failure(ev.error(), "build test event");
    auto st = deps_.producer.produce_and_wait(opts_.events_topic, ev->business_id, ev->raw,
                                              opts_.publish_timeout);
    if (!st) {
      log::warn("test ping not published", {{"endpoint", ep.id}, {"error", st.error().message}});
      co_return error_response(503, "service_unavailable",
                               "the event stream is unreachable; try again shortly");
    }
    co_return json_response(
        202, {{"object", "webhook_test"}, {"event_id", ev->id}, {"endpoint_id", ep.id}});
  }

  if (p.size() == 3 && action == "replay") {
    if (m != verb::post) co_return method_not_allowed("POST");
    if (auto e = c.allow_query({})) co_return *e;
    json body;
    if (auto e = c.read_body(body, {"since", "until"}, false)) co_return *e;
    if (!body.contains("since")) co_return invalid("field 'since' is required");
    if (!body.contains("until")) co_return invalid("field 'until' is required");
    auto since = parse_time(body["since"]);
    if (!since) {
      co_return invalid("field 'since' must be an RFC 3339 date-time in years 2000-2100");
    }
    auto until = parse_time(body["until"]);
    if (!until) {
      co_return invalid("field 'until' must be an RFC 3339 date-time in years 2000-2100");
    }
    if (*since >= *until) co_return invalid("field 'since' must be before 'until'");
    if (*until - *since > max_replay_window) {
      co_return invalid("field 'until' must be at most 30 days after 'since'");
    }
    // Refused rather than silently replaying less: Kafka no longer holds the window's start.
    if (auto earliest = deps_.replay_runner.earliest_replayable(); earliest && *since < *earliest) {
      co_return invalid("field 'since' is before the oldest event Kafka still holds: the earliest "
                        "time that can be replayed is " +
                        tresse::events::format_rfc3339(*earliest));
    }
    auto op = deps_.replay_runner.start_op(ep, *since, *until);
    auto started = co_await redis::run(async_redis_, op);
    if (!started) co_return store_failure(started.error(), "start replay");
    co_return json_response(202, *started);
  }

  if (p.size() == 3 && action == "stats") {
    if (m != verb::get) co_return method_not_allowed("GET");
    if (auto e = c.allow_query({"since", "until", "step"})) co_return *e;
    stats::window w;
    if (auto e = c.read_stats_window(w)) co_return *e;
    auto op = stats::read_op(id, w.first_minute, w.steps, w.step_minutes);
    auto got = co_await redis::run(async_redis_, op);
    if (!got) co_return store_failure(got.error(), "endpoint stats");
    co_return json_response(200, stats::to_json(*got));
  }

  if (action != "deliveries") co_return not_found("no such path");

  if (p.size() == 3) {
    if (m != verb::get) co_return method_not_allowed("GET");
    if (auto e = c.allow_query({"limit", "cursor", "status", "event_type"})) co_return *e;
    page_params page;
    if (auto e = c.read_page(page)) co_return *e;
    std::optional<bool> want_success;
    if (auto it = c.query.find("status"); it != c.query.end()) {
      if (it->second != "succeeded" && it->second != "failed") {
        co_return invalid("status must be 'succeeded' or 'failed'");
      }
      want_success = it->second == "succeeded";
    }
    std::string type_filter;
    if (auto it = c.query.find("event_type"); it != c.query.end()) {
      if (!tresse::events::is_known_type(it->second)) {
        co_return invalid("event_type '" + it->second + "' is not a known event type");
      }
      type_filter = it->second;
    }
    auto op = retry::store::list_attempts_op(id, 1000);
    auto attempts = co_await redis::run(async_redis_, op);
    if (!attempts) co_return store_failure(attempts.error(), "list attempts");
    auto keep = [&](const retry::attempt_record& at) {
      return (!want_success || at.succeeded == *want_success) &&
             (type_filter.empty() || at.event_type == type_filter);
    };
    co_return json_response(200, attempts_page(*attempts, page, keep));
  }

  const std::string& event_id = p[3];
  std::string no_event = "no deliveries of event '" + event_id + "' to this endpoint";
  if (!tresse::events::is_valid_id(event_id)) co_return not_found(no_event);
  auto for_event = retry::store::attempts_for_event_op(id, event_id);
  auto attempts = co_await redis::run(async_redis_, for_event);
  if (!attempts) co_return store_failure(attempts.error(), "event attempts");
  if (attempts->empty()) co_return not_found(no_event);

  if (p.size() == 4) {
    if (m != verb::get) co_return method_not_allowed("GET");
    if (auto e = c.allow_query({"limit", "cursor"})) co_return *e;
    page_params page;
    if (auto e = c.read_page(page)) co_return *e;
    auto all = [](const retry::attempt_record&) { return true; };
    co_return json_response(200, attempts_page(*attempts, page, all));
  }

  if (p[4] != "retry") co_return not_found("no such path");
  if (m != verb::post) co_return method_not_allowed("POST");
  if (auto e = c.allow_query({})) co_return *e;
  json body;
  if (auto e = c.read_body(body, {}, true)) co_return *e;
  auto body_op = retry::store::event_body_op(event_id);
  auto bytes = co_await redis::run(async_redis_, body_op);
  if (!bytes) co_return store_failure(bytes.error(), "event body");
  if (!*bytes) co_return not_found("event '" + event_id + "' is no longer kept for redelivery");
  auto ev = tresse::events::parse_event(**bytes);
  if (!ev || ev->business_id != who.business_id) co_return not_found(no_event);
  retry::task t;
  t.event_id = ev->id;
  t.endpoint_id = id;
  t.business_id = ev->business_id;
  t.event_type = ev->type;
  t.body = std::move(ev->raw);
  t.first_attempt_at = c.now;
  // An ordered endpoint: to the back of the event's resource's queue, with a new number.
  if (ep.order == registry::ordering::per_resource) t.resource = ordered::resource_of(t.body);
  auto schedule = t.resource.empty()
                      ? deps_.retries.schedule_now_op(t, c.now)
                      : ordered::requeue_op(t, deps_.retries.shards(), c.now, deps_.retries.task_ttl());
  auto scheduled = co_await redis::run(async_redis_, schedule);
  if (!scheduled) co_return store_failure(scheduled.error(), "schedule retry");
  if (!*scheduled) {
    co_return error_response(409, "delivery_in_progress",
                             "an attempt to deliver this event is in progress; retry when it ends");
  }
  co_return json_response(202, {{"object", "delivery_retry"},
                                {"event_id", event_id},
                                {"endpoint_id", id},
                                {"scheduled_at", tresse::events::format_rfc3339(c.now)}});
}

}  // namespace tresse::dispatcher::api
