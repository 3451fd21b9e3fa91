#include "config/config.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <utility>

#include "http/proxy.hpp"
#include "redis/client.hpp"
#include "console/assets.hpp"
#include "registry/secret_box.hpp"
#include "api/keys.hpp"

extern char** environ;  // NOLINT: POSIX

namespace tresse::dispatcher {
namespace {

using std::chrono::milliseconds;

constexpr std::string_view librdkafka_prefix = "kafka.librdkafka.";

// Thrown by value parsers with the reason only; set_value adds the key.
struct bad_value {
  std::string reason;
};

std::string_view trim(std::string_view s) {
  const auto* ws = " \t\r\n";
  const auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::vector<std::string_view> split_list(std::string_view v) {
  std::vector<std::string_view> items;
  if (trim(v).empty()) return items;
  while (true) {
    const auto comma = v.find(',');
    const auto item = trim(v.substr(0, comma));
    if (item.empty()) throw bad_value{"empty list item"};
    items.push_back(item);
    if (comma == std::string_view::npos) return items;
    v.remove_prefix(comma + 1);
  }
}

template <class T>
std::string join(const std::vector<T>& items, std::string (*format)(const T&)) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += ',';
    out += format(i);
  }
  return out;
}

// --- value parsers and formatters -------------------------------------------------------

std::string parse_text(std::string_view v) { return std::string(v); }
std::string format_text(const std::string& s) { return s; }

// The CSP frame-ancestors sources, as console::check_frame_ancestors accepts them.
std::string parse_frame_ancestors(std::string_view v) {
  if (auto why = console::check_frame_ancestors(v)) throw bad_value{*why};
  return std::string(v);
}

// api.operator_token: the token (32 to 256 printable ASCII characters, no spaces), or
// "sha256:" and its digest in hex, so that a config file need not hold the token itself. Kept
// as the digest alone; empty: the operators' view is off.
std::string parse_operator_token(std::string_view v) {
  if (v.empty()) return {};  // off
  if (v.starts_with("sha256:")) {
    const std::string_view hex = v.substr(7);
    const bool ok = hex.size() == 64 && std::all_of(hex.begin(), hex.end(), [](char c) {
                      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                    });
    if (!ok) throw bad_value{"sha256: must be followed by 64 lower-case hex digits"};
    return std::string(hex);
  }
  const bool printable = std::all_of(v.begin(), v.end(), [](char c) { return c > ' ' && c < 127; });
  if (v.size() < 32 || v.size() > 256 || !printable) {
    throw bad_value{"must be 32 to 256 printable characters without spaces, or sha256:<hex>"};
  }
  return api::key_hash(v);
}

std::string parse_name(std::string_view v) {
  if (v.empty()) throw bad_value{"must not be empty"};
  return std::string(v);
}

std::uint64_t parse_u64(std::string_view v) {
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size()) {
    throw bad_value{"not a non-negative integer"};
  }
  return n;
}

template <class T, std::uint64_t Min = 1>
T parse_count(std::string_view v) {
  const auto n = parse_u64(v);
  if (n < Min) throw bad_value{"must be at least " + std::to_string(Min)};
  if (n > std::numeric_limits<T>::max()) throw bad_value{"too large"};
  return static_cast<T>(n);
}

std::size_t parse_retry_shards(std::string_view v) {
  const auto n = parse_count<std::size_t>(v);
  if (n > 1024) throw bad_value{"must be at most 1024"};
  return n;
}

template <class T>
std::string format_count(const T& n) {
  return std::to_string(n);
}

bool parse_bool(std::string_view v) {
  std::string s(v);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == "true" || s == "yes" || s == "on" || s == "1") return true;
  if (s == "false" || s == "no" || s == "off" || s == "0") return false;
  throw bad_value{"not a boolean (true/false, yes/no, on/off, 1/0)"};
}
std::string format_bool(const bool& b) { return b ? "true" : "false"; }

double parse_fraction(std::string_view v) {
  double d = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size()) {
    throw bad_value{"not a number"};
  }
  if (!(d >= 0.0 && d <= 1.0)) throw bad_value{"must be between 0 and 1"};
  return d;
}
double parse_positive_number(std::string_view v) {
  double d = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size()) {
    throw bad_value{"not a number"};
  }
  if (!(d > 0.0 && d < 1e9)) throw bad_value{"must be a positive number"};
  return d;
}

double parse_open_fraction(std::string_view v) {
  const double d = parse_fraction(v);
  if (d <= 0.0 || d >= 1.0) throw bad_value{"must be between 0 and 1, exclusive"};
  return d;
}

std::string format_fraction(const double& d) {
  std::array<char, 32> buf{};
  const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), d);
  return std::string(buf.data(), end);
}

struct duration_unit {
  std::string_view suffix;
  std::int64_t ms;
};
// Longest suffix first so "5ms" is not read as 5 minutes + "s".
constexpr std::array<duration_unit, 5> duration_units{
    {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}}};

milliseconds parse_duration(std::string_view v) {
  const auto digits = v.find_first_not_of("0123456789");
  const auto unit = digits == std::string_view::npos ? std::string_view{} : v.substr(digits);
  for (const auto& u : duration_units) {
    if (unit != u.suffix) continue;
    std::uint64_t n = 0;
    try {
      n = parse_u64(v.substr(0, digits));
    } catch (const bad_value&) {
      break;
    }
    if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max() / u.ms)) {
      throw bad_value{"duration too large"};
    }
    return milliseconds(static_cast<std::int64_t>(n) * u.ms);
  }
  throw bad_value{"not a duration (an integer with a unit: ms, s, m, h or d, e.g. 500ms, 5m)"};
}

milliseconds parse_positive_duration(std::string_view v) {
  const auto d = parse_duration(v);
  if (d.count() == 0) throw bad_value{"must be longer than 0"};
  return d;
}

std::string format_duration(const milliseconds& d) {
  // The largest unit that divides it exactly: 300000ms → "5m".
  for (auto u = duration_units.rbegin(); u != duration_units.rend(); ++u) {
    if (d.count() != 0 && d.count() % u->ms == 0) {
      return std::to_string(d.count() / u->ms) + std::string(u->suffix);
    }
  }
  return std::to_string(d.count()) + "ms";
}

std::vector<milliseconds> parse_duration_list(std::string_view v) {
  std::vector<milliseconds> out;
  for (const auto item : split_list(v)) out.push_back(parse_positive_duration(item));
  if (out.empty()) throw bad_value{"must list at least one duration"};
  return out;
}
std::string format_duration_list(const std::vector<milliseconds>& v) {
  return join(v, &format_duration);
}

listen_address parse_listen(std::string_view v) {
  try {
    return parse_listen_address(v);
  } catch (const config_error& e) {
    throw bad_value{e.what()};
  }
}
std::string format_listen(const listen_address& a) { return to_string(a); }

std::optional<listen_address> parse_optional_listen(std::string_view v) {
  if (v.empty()) return std::nullopt;
  return parse_listen(v);
}
std::string format_optional_listen(const std::optional<listen_address>& a) {
  return a ? to_string(*a) : std::string();
}

// "10.1.2.3/8" → "10.0.0.0/8"; a bare address is a /32 or /128.
std::string parse_cidr(std::string_view v) {
  const auto slash = v.find('/');
  const std::string host(v.substr(0, slash));
  std::array<unsigned char, 16> bytes{};
  const bool v6 = host.find(':') != std::string::npos;
  const int family = v6 ? AF_INET6 : AF_INET;
  const unsigned width = v6 ? 128 : 32;
  if (inet_pton(family, host.c_str(), bytes.data()) != 1) {
    throw bad_value{"not a CIDR block: \"" + std::string(v) + "\""};
  }
  unsigned prefix = width;
  if (slash != std::string_view::npos) {
    try {
      prefix = static_cast<unsigned>(parse_u64(v.substr(slash + 1)));
    } catch (const bad_value&) {
      prefix = width + 1;
    }
    if (prefix > width) throw bad_value{"bad prefix length in \"" + std::string(v) + "\""};
  }
  for (unsigned bit = prefix; bit < width; ++bit) {
    bytes[bit / 8] &= static_cast<unsigned char>(~(0x80u >> (bit % 8)));
  }
  std::array<char, INET6_ADDRSTRLEN> text{};
  inet_ntop(family, bytes.data(), text.data(), text.size());
  return std::string(text.data()) + "/" + std::to_string(prefix);
}

std::vector<std::string> parse_cidr_list(std::string_view v) {
  std::vector<std::string> out;
  for (const auto item : split_list(v)) out.push_back(parse_cidr(item));
  return out;
}
std::string format_text_list(const std::vector<std::string>& v) { return join(v, &format_text); }

// The ops commands' parser too (secret_box::decode_key): a key one accepts, the other does.
std::string parse_encryption_key(std::string_view v) {
  if (v.empty()) return {};
  auto key = registry::secret_box::decode_key(v);
  if (!key) throw bad_value{key.error().message};
  return std::move(*key);
}
std::string format_secret(const std::string& s) { return s.empty() ? std::string() : "(set)"; }

// The clients' own parser, so that a URL accepted here is one they can use.
std::string parse_redis_url(std::string_view v) {
  if (auto o = redis::parse_url(v); !o) throw bad_value{o.error().message};
  return std::string(v);
}
// The URL without its user-info, which may hold a password.
std::string format_url_hiding_userinfo(const std::string& url) {
  const auto scheme_end = url.find("://");
  const auto at = url.rfind('@');
  if (scheme_end == std::string::npos || at == std::string::npos || at < scheme_end) return url;
  return url.substr(0, scheme_end + 3) + "***" + url.substr(at);
}

std::optional<std::uint32_t> parse_wait_replicas(std::string_view v) {
  if (v == "auto") return std::nullopt;
  return parse_count<std::uint32_t, 0>(v);
}
std::string format_wait_replicas(const std::optional<std::uint32_t>& n) {
  return n ? std::to_string(*n) : std::string("auto");
}

// Below the Redis clients' command timeout, which would otherwise drop a connection waiting.
milliseconds parse_wait_timeout(std::string_view v) {
  const auto d = parse_positive_duration(v);
  if (d >= redis::options{}.command_timeout) {
    throw bad_value{"must be shorter than the Redis command timeout (" +
                    format_duration(redis::options{}.command_timeout) + ")"};
  }
  return d;
}

// The delivery client's own parser (http/proxy.hpp): a proxy accepted here is one it can use.
std::string parse_proxy_url(std::string_view v) {
  if (v.empty()) return {};
  if (auto p = http::proxy::parse(v); !p) throw bad_value{p.error().message};
  return std::string(v);
}

std::vector<std::string> parse_no_proxy_list(std::string_view v) {
  std::vector<std::string> out;
  for (const auto item : split_list(v)) {
    if (auto why = http::proxy::no_proxy_problem(item)) throw bad_value{*why};
    out.emplace_back(item);
  }
  return out;
}

constexpr std::array<std::pair<std::string_view, tresse::log::level>, 4> log_levels{
    {{"debug", tresse::log::level::debug},
     {"info", tresse::log::level::info},
     {"warn", tresse::log::level::warn},
     {"error", tresse::log::level::error}}};

tresse::log::level parse_log_level(std::string_view v) {
  for (const auto& [name, l] : log_levels) {
    if (v == name) return l;
  }
  throw bad_value{"must be one of debug, info, warn, error"};
}
std::string format_log_level(const tresse::log::level& l) {
  for (const auto& [name, value] : log_levels) {
    if (l == value) return std::string(name);
  }
  return "info";
}

// --- the key list: the one source of truth for the parser, the environment and --help ----

struct key_spec {
  std::string_view name;
  std::string_view meaning;
  bool secret;  // its value never appears in messages or help
  std::function<void(config&, std::string_view)> set;
  std::function<std::string(const config&)> show;
};

// `get` is a generic lambda returning a reference to the field for config& and const config&.
template <class Get, class Parse, class Format>
key_spec field(std::string_view name, std::string_view meaning, Get get, Parse parse, Format format,
               bool secret = false) {
  return key_spec{name, meaning, secret,
                  [get, parse](config& c, std::string_view v) { get(c) = parse(v); },
                  [get, format](const config& c) { return format(get(c)); }};
}

const std::vector<key_spec>& keys() {
  static const std::vector<key_spec> specs = {
      field(
          "kafka.brokers",
          "bootstrap brokers host:port,... (required); \"embedded\" = librdkafka's mock cluster "
          "in-process, for try-outs and tests only",
          [](auto& c) -> auto& { return c.kafka.brokers; }, parse_text, format_text),
      field(
          "kafka.topic", "topic the platform publishes events to",
          [](auto& c) -> auto& { return c.kafka.topic; }, parse_name, format_text),
      field(
          "kafka.group", "consumer group shared by all dispatcher instances",
          [](auto& c) -> auto& { return c.kafka.group; }, parse_name, format_text),
      field(
          "kafka.dead_letter_topic", "topic for undeliverable events and bad messages",
          [](auto& c) -> auto& { return c.kafka.dead_letter_topic; }, parse_name, format_text),
      field(
          "kafka.ops_topic",
          "topic for management actions (manual retry, replay, test ping) and operational "
          "events (webhook_endpoint.failing, webhook_endpoint.disabled)",
          [](auto& c) -> auto& { return c.kafka.ops_topic; }, parse_name, format_text),
      field(
          "kafka.max_event_bytes", "larger event messages are dead-lettered",
          [](auto& c) -> auto& { return c.kafka.max_event_bytes; }, parse_count<std::size_t>,
          format_count<std::size_t>),
      field(
          "kafka.max_pending",
          "records consumed but not yet handed off before partitions are paused (backpressure)",
          [](auto& c) -> auto& { return c.kafka.max_pending; }, parse_count<std::size_t>,
          format_count<std::size_t>),
      field(
          "kafka.embedded_bootstrap_file",
          "with embedded brokers: file to write their bootstrap list to (\"\" = none)",
          [](auto& c) -> auto& { return c.kafka.embedded_bootstrap_file; }, parse_text,
          format_text),
      field(
          "redis.url",
          "Redis holding retry state and endpoints: redis://[[user]:password@]host[:port][/db], "
          "or through Sentinel redis+sentinel://[[user]:password@]host[:port][,host[:port]...]"
          "/master-name[/db] (sentinel port 26379 by default), or a Redis Cluster "
          "redis+cluster://[[user]:password@]host[:port][,host[:port]...][/0] (seed nodes; "
          "database 0 only; user and password percent-encoded, an IPv6 host in brackets)",
          [](auto& c) -> auto& { return c.redis.url; }, parse_redis_url, format_url_hiding_userinfo,
          /*secret=*/true),
      field(
          "redis.wait_replicas",
          "replicas that must acknowledge a hand-off (WAIT) before its Kafka offset is "
          "committed: a number, or auto (1 while the primary has a replica connected, else 0)",
          [](auto& c) -> auto& { return c.redis.wait_replicas; }, parse_wait_replicas,
          format_wait_replicas),
      field(
          "redis.wait_timeout",
          "how long one WAIT waits for the replicas; fewer acks count as Redis unavailable "
          "(the offset waits, WAIT is sent again)",
          [](auto& c) -> auto& { return c.redis.wait_timeout; }, parse_wait_timeout,
          format_duration),
      field(
          "retry.shards",
          "the retry schedule's shards in Redis (1..1024), each under its own hash tag; every "
          "instance must use the same number (migrate-keys re-shards)",
          [](auto& c) -> auto& { return c.retry.shards; }, parse_retry_shards,
          format_count<std::size_t>),
      field(
          "admin.listen", "host:port of /metrics and /healthz",
          [](auto& c) -> auto& { return c.admin.listen; }, parse_listen, format_listen),
      field(
          "admin.max_connections",
          "connections the admin listener holds open at once; more are closed at once",
          [](auto& c) -> auto& { return c.admin.max_connections; }, parse_count<std::size_t>,
          format_count<std::size_t>),
      field(
          "admin.idle_timeout",
          "an admin connection is closed when no request began within this",
          [](auto& c) -> auto& { return c.admin.idle_timeout; }, parse_positive_duration,
          format_duration),
      field(
          "admin.header_timeout",
          "an admin connection is closed when a request's header did not arrive whole within "
          "this of its first byte",
          [](auto& c) -> auto& { return c.admin.header_timeout; }, parse_positive_duration,
          format_duration),
      field(
          "api.listen", "host:port of the management API (\"\" = off)",
          [](auto& c) -> auto& { return c.api.listen; }, parse_optional_listen,
          format_optional_listen),
      field(
          "api.rate_limit_per_minute",
          "management API requests per API key (or client address, without a key) per minute",
          [](auto& c) -> auto& { return c.api.rate_limit_per_minute; }, parse_count<std::uint32_t>,
          format_count<std::uint32_t>),
      field(
          "api.threads",
          "management API threads (none waits on Redis: they share one pipelined, non-blocking "
          "connection)",
          [](auto& c) -> auto& { return c.api.threads; }, parse_count<std::size_t>,
          format_count<std::size_t>),
      field(
          "api.allow_http", "live endpoints may use http:// URLs (else https:// only)",
          [](auto& c) -> auto& { return c.api.allow_http; }, parse_bool, format_bool),
      field(
          "api.console_frame_ancestors",
          "sites that may embed the web console in an iframe (CSP frame-ancestors sources, "
          "space-separated; 'none' = no site)",
          [](auto& c) -> auto& { return c.api.console_frame_ancestors; }, parse_frame_ancestors,
          format_text),
      field(
          "api.operator_token",
          "the operators' view (/console/ops/, /v1/ops/): its bearer token, 32 to 256 "
          "characters, or sha256:<hex> of it; unset = the view is off (404)",
          [](auto& c) -> auto& { return c.api.operator_token_sha256; }, parse_operator_token,
          format_secret, /*secret=*/true),
      field(
          "api.max_connections",
          "connections the management API holds open at once (0 = a quarter of the descriptor "
          "limit); more are closed at once",
          [](auto& c) -> auto& { return c.api.max_connections; }, parse_count<std::size_t, 0>,
          format_count<std::size_t>),
      field(
          "api.idle_timeout",
          "an API connection is closed when no request began within this",
          [](auto& c) -> auto& { return c.api.idle_timeout; }, parse_positive_duration,
          format_duration),
      field(
          "api.header_timeout",
          "an API connection is closed when a request's header did not arrive whole within this "
          "of its first byte",
          [](auto& c) -> auto& { return c.api.header_timeout; }, parse_positive_duration,
          format_duration),
      field(
          "delivery.allow_private_networks",
          "deliver to loopback, private and link-local addresses (tests, try-out)",
          [](auto& c) -> auto& { return c.delivery.allow_private_networks; }, parse_bool,
          format_bool),
      field(
          "delivery.allow_list", "CIDR blocks allowed even though internal, comma-separated",
          [](auto& c) -> auto& { return c.delivery.allow_list; }, parse_cidr_list,
          format_text_list),
      field(
          "delivery.retry_schedule", "delays between attempts; after the last, dead-letter",
          [](auto& c) -> auto& { return c.delivery.retry_schedule; }, parse_duration_list,
          format_duration_list),
      field(
          "delivery.retry_jitter", "± fraction applied to each retry delay (0..1)",
          [](auto& c) -> auto& { return c.delivery.retry_jitter; }, parse_fraction,
          format_fraction),
      field(
          "delivery.timeout", "whole attempt: connect, TLS, request, response",
          [](auto& c) -> auto& { return c.delivery.timeout; }, parse_positive_duration,
          format_duration),
      field(
          "delivery.connect_timeout", "TCP connect of one attempt",
          [](auto& c) -> auto& { return c.delivery.connect_timeout; }, parse_positive_duration,
          format_duration),
      field(
          "delivery.io_threads",
          "io threads delivering, each owning the endpoints given to it (0: one per core)",
          [](auto& c) -> auto& { return c.delivery.io_threads; }, parse_count<std::size_t, 0>,
          format_count<std::size_t>),
      field(
          "delivery.max_in_flight", "attempts in progress at once, all endpoints",
          [](auto& c) -> auto& { return c.delivery.max_in_flight; }, parse_count<std::size_t>,
          format_count<std::size_t>),
      field(
          "delivery.endpoint_concurrency", "attempts in progress at once per endpoint",
          [](auto& c) -> auto& { return c.delivery.endpoint_concurrency; },
          parse_count<std::size_t>, format_count<std::size_t>),
      field(
          "delivery.endpoint_queue_limit",
          "deliveries waiting for one endpoint's slots (first attempts and retries apart); "
          "beyond, while it is stalled (delivery.endpoint_stall_after), they are deferred to the "
          "retry schedule without a request",
          [](auto& c) -> auto& { return c.delivery.endpoint_queue_limit; },
          parse_count<std::size_t, 0>, format_count<std::size_t>),
      field(
          "delivery.endpoint_queue_timeout",
          "longest wait for an endpoint's slot before the delivery is deferred to the schedule",
          [](auto& c) -> auto& { return c.delivery.endpoint_queue_timeout; }, parse_duration,
          format_duration),
      field(
          "delivery.endpoint_stall_after",
          "an endpoint with every slot busy and none freed for this long is stalled: its full "
          "queue defers new deliveries (a busy but healthy one keeps them, under Kafka "
          "backpressure)",
          [](auto& c) -> auto& { return c.delivery.endpoint_stall_after; }, parse_duration,
          format_duration),
      field(
          "delivery.breaker_failures",
          "failed attempts within delivery.breaker_window that open an endpoint's circuit "
          "(0 = no breaker)",
          [](auto& c) -> auto& { return c.delivery.breaker_failures; }, parse_count<std::size_t, 0>,
          format_count<std::size_t>),
      field(
          "delivery.breaker_window", "window in which the breaker counts failures",
          [](auto& c) -> auto& { return c.delivery.breaker_window; }, parse_positive_duration,
          format_duration),
      field(
          "delivery.breaker_cool_down",
          "an open circuit's wait before one probe; doubles after each failed probe",
          [](auto& c) -> auto& { return c.delivery.breaker_cool_down; }, parse_positive_duration,
          format_duration),
      field(
          "delivery.breaker_max_cool_down", "the longest cool-down",
          [](auto& c) -> auto& { return c.delivery.breaker_max_cool_down; },
          parse_positive_duration, format_duration),
      field(
          "delivery.throttle_min_rate",
          "requests/s an overloaded endpoint is throttled down to, at the lowest",
          [](auto& c) -> auto& { return c.delivery.throttle_min_rate; }, parse_positive_number,
          format_fraction),
      field(
          "delivery.throttle_decrease",
          "fraction of an endpoint's rate kept on 429/502/503/504/timeout (0..1, exclusive)",
          [](auto& c) -> auto& { return c.delivery.throttle_decrease; }, parse_open_fraction,
          format_fraction),
      field(
          "delivery.throttle_increase",
          "requests/s a throttled endpoint's rate regains per second of successes",
          [](auto& c) -> auto& { return c.delivery.throttle_increase; }, parse_positive_number,
          format_fraction),
      field(
          "delivery.auto_disable_after",
          "an endpoint whose every attempt failed for this long is disabled (0 = never)",
          [](auto& c) -> auto& { return c.delivery.auto_disable_after; }, parse_duration,
          format_duration),
      field(
          "delivery.warn_after_dead_letters",
          "deliveries in a row dead-lettered before webhook_endpoint.failing is published "
          "(0 = never)",
          [](auto& c) -> auto& { return c.delivery.warn_after_dead_letters; },
          parse_count<std::size_t, 0>, format_count<std::size_t>),
      field(
          "delivery.max_response_body", "bytes of response body kept for the attempt log",
          [](auto& c) -> auto& { return c.delivery.max_response_body; },
          parse_count<std::size_t, 0>, format_count<std::size_t>),
      field(
          "delivery.ca_file", "PEM CA bundle for endpoint TLS (\"\" = system store)",
          [](auto& c) -> auto& { return c.delivery.ca_file; }, parse_text, format_text),
      field(
          "delivery.proxy",
          "egress HTTP proxy for every delivery, http://[user:password@]host:port (CONNECT for "
          "https); \"\" = direct. Its failures are not charged to endpoints",
          [](auto& c) -> auto& { return c.delivery.proxy; }, parse_proxy_url,
          format_url_hiding_userinfo, /*secret=*/true),
      field(
          "delivery.no_proxy",
          "targets that bypass delivery.proxy: host suffixes (example.com covers its subdomains) "
          "and CIDRs of IP-literal hosts, comma-separated",
          [](auto& c) -> auto& { return c.delivery.no_proxy; }, parse_no_proxy_list,
          format_text_list),
      field(
          "delivery.proxy_resolves",
          "give the proxy target host names to resolve: the SSRF guard then cannot check them, "
          "and the proxy must refuse internal addresses itself",
          [](auto& c) -> auto& { return c.delivery.proxy_resolves; }, parse_bool, format_bool),
      field(
          "delivery.retry_lease", "how long an instance owns a due retry before others take it",
          [](auto& c) -> auto& { return c.delivery.retry_lease; }, parse_positive_duration,
          format_duration),
      field(
          "delivery.drain_timeout", "on SIGTERM, time to finish attempts in progress",
          [](auto& c) -> auto& { return c.delivery.drain_timeout; }, parse_duration,
          format_duration),
      field(
          "registry.refresh_interval", "how often endpoints are reloaded from Redis",
          [](auto& c) -> auto& { return c.registry.refresh_interval; }, parse_positive_duration,
          format_duration),
      field(
          "registry.full_refresh_interval",
          "how often endpoints are reloaded even when their version did not change",
          [](auto& c) -> auto& { return c.registry.full_refresh_interval; },
          parse_positive_duration, format_duration),
      field(
          "registry.encryption_key",
          "64 hex digits or base64 of 32 bytes, encrypting endpoint secrets at rest "
          "(\"\" = stored plain)",
          [](auto& c) -> auto& { return c.registry.encryption_key; }, parse_encryption_key,
          format_secret, /*secret=*/true),
      field(
          "log.level", "debug, info, warn or error", [](auto& c) -> auto& { return c.log.level; },
          parse_log_level, format_log_level),
  };
  return specs;
}

std::string env_name(std::string_view key) {
  std::string out = "TRESSE_";
  for (const char c : key) {
    out += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

// Sets a key; `origin` (e.g. "config.conf:3: " or "TRESSE_X: ") prefixes error messages.
void apply(config& cfg, std::string_view key, std::string_view value, std::string_view origin) {
  const auto fail = [&](std::string_view why) {
    throw config_error(std::string(origin) + std::string(key) + ": " + std::string(why));
  };
  if (key.starts_with(librdkafka_prefix)) {
    const auto property = key.substr(librdkafka_prefix.size());
    if (property.empty()) fail("missing librdkafka property name");
    cfg.kafka.librdkafka[std::string(property)] = std::string(value);
    return;
  }
  const auto& specs = keys();
  const auto spec =
      std::find_if(specs.begin(), specs.end(), [&](const key_spec& s) { return s.name == key; });
  if (spec == specs.end()) {
    throw config_error(std::string(origin) + "unknown configuration key \"" + std::string(key) +
                       "\" (see --help)");
  }
  try {
    spec->set(cfg, value);
  } catch (const bad_value& e) {
    if (spec->secret) fail(e.reason);
    fail(e.reason + " (got \"" + std::string(value) + "\")");
  }
}

// Removes the quotes and a trailing comment of a file value.
std::string_view file_value(std::string_view raw, const std::string& where, std::string_view key) {
  raw = trim(raw);
  if (!raw.empty() && (raw.front() == '"' || raw.front() == '\'')) {
    const auto close = raw.find(raw.front(), 1);
    if (close == std::string_view::npos) {
      throw config_error(where + std::string(key) + ": unterminated quote");
    }
    const auto rest = trim(raw.substr(close + 1));
    if (!rest.empty() && rest.front() != '#') {
      throw config_error(where + std::string(key) + ": text after the closing quote");
    }
    return raw.substr(1, close - 1);
  }
  // A comment starts at a '#' after whitespace, so values like "a#b" stay whole.
  if (!raw.empty() && raw.front() == '#') return {};
  for (std::size_t i = 1; i < raw.size(); ++i) {
    if (raw[i] == '#' && (raw[i - 1] == ' ' || raw[i - 1] == '\t')) return trim(raw.substr(0, i));
  }
  return raw;
}

void apply_file(config& cfg, const std::string& path) {
  std::ifstream in(path);
  if (!in) throw config_error("cannot read config file " + path);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const auto text = trim(line);
    if (text.empty() || text.front() == '#') continue;
    const std::string where = path + ":" + std::to_string(number) + ": ";
    const auto eq = text.find('=');
    if (eq == std::string_view::npos) throw config_error(where + "expected key = value");
    const auto key = trim(text.substr(0, eq));
    if (key.empty()) throw config_error(where + "missing key before '='");
    apply(cfg, key, file_value(text.substr(eq + 1), where, key), where);
  }
}

void apply_environment(config& cfg, const std::map<std::string, std::string>& env) {
  for (const auto& spec : keys()) {
    const auto name = env_name(spec.name);
    if (const auto it = env.find(name); it != env.end()) {
      apply(cfg, spec.name, it->second, name + ": ");
    }
  }
  // kafka.librdkafka.<property>: property names are dotted, so `_` reads back as `.`.
  const std::string prefix = env_name(librdkafka_prefix);
  for (auto it = env.lower_bound(prefix); it != env.end() && it->first.starts_with(prefix); ++it) {
    std::string property = it->first.substr(prefix.size());
    for (auto& c : property) {
      c = c == '_' ? '.' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    apply(cfg, std::string(librdkafka_prefix) + property, it->second, it->first + ": ");
  }
}

// Levenshtein distance, for naming the key a mistyped variable was probably meant to be.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::vector<unknown_variable> unknown_environment(const std::map<std::string, std::string>& env) {
  std::vector<unknown_variable> out;
  const std::string librdkafka_env = env_name(librdkafka_prefix);
  for (auto it = env.lower_bound("TRESSE_"); it != env.end() && it->first.starts_with("TRESSE_");
       ++it) {
    const std::string& name = it->first;
    if (name.starts_with(librdkafka_env) && name.size() > librdkafka_env.size()) continue;
    const key_spec* nearest = nullptr;
    std::size_t best = std::numeric_limits<std::size_t>::max();
    bool known = false;
    for (const auto& spec : keys()) {
      const auto candidate = env_name(spec.name);
      if (candidate == name) {
        known = true;
        break;
      }
      if (const auto d = edit_distance(name, candidate); d < best) {
        best = d;
        nearest = &spec;
      }
    }
    if (known || nearest == nullptr) continue;
    out.push_back({name, env_name(nearest->name), std::string(nearest->name)});
  }
  return out;
}

std::vector<std::string> validate(const config& cfg) {
  std::vector<std::string> problems;
  if (cfg.kafka.brokers.empty()) {
    problems.emplace_back(
        "kafka.brokers is not set: name the Kafka bootstrap brokers, as `kafka.brokers = "
        "host:9092,...` in the --config file, TRESSE_KAFKA_BROKERS=host:9092 in the "
        "environment or --set kafka.brokers=host:9092 (kafka.brokers=embedded runs librdkafka's "
        "in-process mock cluster instead: for try-outs and tests, not for production)");
  }
  return problems;
}

listen_address parse_listen_address(std::string_view text) {
  const auto bad = [&](std::string_view why) -> config_error {
    return config_error("bad listen address \"" + std::string(text) + "\": " + std::string(why));
  };
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos || text.substr(close + 1, 1) != ":") {
      throw bad("expected [v6-address]:port");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) throw bad("expected host:port");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) throw bad("put IPv6 addresses in brackets");
  }
  if (host.empty()) throw bad("missing host (use 0.0.0.0 for every interface)");
  std::uint16_t p = 0;
  try {
    p = parse_count<std::uint16_t, 0>(port);
  } catch (const bad_value&) {
    throw bad("port must be 0..65535");
  }
  return listen_address{std::string(host), p};
}

std::string to_string(const listen_address& a) {
  const bool v6 = a.host.find(':') != std::string::npos;
  return (v6 ? "[" + a.host + "]" : a.host) + ":" + std::to_string(a.port);
}

void set_value(config& cfg, std::string_view key, std::string_view value) {
  apply(cfg, key, value, "");
}

config load_config(const config_sources& sources) {
  config cfg;
  if (sources.file) apply_file(cfg, *sources.file);
  apply_environment(cfg, sources.environment);
  for (const auto& o : sources.overrides) {
    const auto eq = o.find('=');
    if (eq == std::string::npos) {
      throw config_error("--set " + o + ": expected key=value");
    }
    apply(cfg, trim(std::string_view(o).substr(0, eq)), std::string_view(o).substr(eq + 1),
          "--set ");
  }
  return cfg;
}

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const auto eq = entry.find('=');
    if (eq != std::string_view::npos) env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return env;
}

std::vector<std::string> config_keys() {
  std::vector<std::string> out;
  for (const auto& spec : keys()) out.emplace_back(spec.name);
  out.emplace_back(std::string(librdkafka_prefix) + "<property>");
  return out;
}

std::string help_text() {
  struct row {
    std::string key, def, meaning;
  };
  const config defaults;
  std::vector<row> rows;
  for (const auto& spec : keys()) {
    auto def = spec.show(defaults);
    rows.push_back({std::string(spec.name), def.empty() ? "\"\"" : def, std::string(spec.meaning)});
  }
  rows.push_back({std::string(librdkafka_prefix) + "<property>", "",
                  "passed to librdkafka as-is (e.g. kafka.librdkafka.security.protocol)"});
  std::size_t key_width = 3;
  std::size_t def_width = 7;
  for (const auto& r : rows) {
    key_width = std::max(key_width, r.key.size());
    def_width = std::max(def_width, r.def.size());
  }
  std::ostringstream out;
  out << "--check validates the configuration, connects to Kafka and Redis (and checks that\n"
         "Redis never evicts keys), prints what it found and exits: 0 when all is well, 1 if not.\n"
         "kafka.brokers is required. Exit status of run: 2 when the configuration (or Redis's)\n"
         "is refused, 1 on another failure to start, 0 after a SIGTERM drain.\n\n"
         "Settings apply in this order, later winning: defaults, the --config file\n"
         "(`key = value` lines, # comments, values may be quoted, lists comma-separated),\n"
         "the environment (TRESSE_ + key upper-cased, '.' -> '_', e.g. TRESSE_KAFKA_BROKERS),\n"
         "then --set. Durations take a unit: ms, s, m, h or d (500ms, 5m).\n"
         "kafka.librdkafka.<property> comes from TRESSE_KAFKA_LIBRDKAFKA_<PROPERTY> with '_' read\n"
         "as '.' (TRESSE_KAFKA_LIBRDKAFKA_SASL_USERNAME -> sasl.username).\n\n";
  const auto print = [&](const row& r) {
    out << r.key << std::string(key_width - r.key.size() + 2, ' ') << r.def
        << std::string(def_width - r.def.size() + 2, ' ') << r.meaning << '\n';
  };
  print({"key", "default", "meaning"});
  for (const auto& r : rows) print(r);
  return out.str();
}

}  // namespace tresse::dispatcher
