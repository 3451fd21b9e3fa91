// The dispatcher's configuration: one typed struct, filled from (later wins)
//
//   1. defaults (the member initialisers below, which DESIGN.md fixes),
//   2. a file of `key = value` lines (`#` comments, values optionally quoted, lists
//      comma-separated),
//   3. the environment: `TRESSE_` + the key upper-cased with `.` → `_`
//      (delivery.timeout → TRESSE_DELIVERY_TIMEOUT; kafka.librdkafka.<property> →
//      TRESSE_KAFKA_LIBRDKAFKA_<PROPERTY> with `_` read back as `.`),
//   4. `--set key=value` on the command line.
//
// Unknown keys and bad values throw config_error naming the key (exceptions are for start-up
// only). Durations take a unit: ms, s, m, h or d ("500ms", "5m"). Values of secret keys never
// appear in messages.
//
//   tresse::dispatcher::config cfg = tresse::dispatcher::load_config(
//       {.file = "/etc/tresse/dispatcher.conf",
//        .environment = tresse::dispatcher::process_environment(),
//        .overrides = {"log.level=debug"}});   // run's --set, cli/command_line.hpp
//   std::chrono::milliseconds t = cfg.delivery.timeout;
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tresse/common/log.hpp"

namespace tresse::dispatcher {

class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A `host:port` to listen on; IPv6 hosts in brackets ("[::1]:9464"). Port 0 picks a free one.
struct listen_address {
  std::string host;
  std::uint16_t port = 0;

  friend bool operator==(const listen_address&, const listen_address&) = default;
};

// Parses "host:port" / "[v6]:port"; throws config_error (without a key name) when malformed.
listen_address parse_listen_address(std::string_view text);
std::string to_string(const listen_address& a);

struct config {
  struct kafka_section {
    std::string brokers;  // required (validate); "embedded" = start librdkafka's mock cluster
    std::string topic = "tresse.events";
    std::string group = "tresse-dispatcher";
    std::string dead_letter_topic = "tresse.webhooks.dead";
    std::string ops_topic = "tresse.webhooks.ops";
    std::size_t max_event_bytes = 1048576;
    std::size_t max_pending = 10000;  // records not yet handed off before partitions pause
    std::string embedded_bootstrap_file;  // where to write the embedded cluster's bootstrap list
    std::map<std::string, std::string> librdkafka;  // kafka.librdkafka.<property>, as given
  } kafka;

  struct redis_section {
    std::string url = "redis://127.0.0.1:6379/0";
    // Replicas a hand-off waits for (WAIT) before its Kafka offset is committed; empty =
    // "auto": 1 while the primary has a replica connected (ROLE), else 0.
    std::optional<std::uint32_t> wait_replicas;
    std::chrono::milliseconds wait_timeout = std::chrono::seconds(1);
  } redis;

  struct retry_section {
    std::size_t shards = 16;  // retry schedule shards in Redis (redis/keys.hpp)
  } retry;

  struct admin_section {
    listen_address listen{"127.0.0.1", 9464};
    std::size_t max_connections = 64;  // scrapers and probes
    std::chrono::milliseconds idle_timeout = std::chrono::seconds(10);
    std::chrono::milliseconds header_timeout = std::chrono::seconds(10);
  } admin;

  struct api_section {
    std::optional<listen_address> listen;  // empty = management API off
    std::uint32_t rate_limit_per_minute = 600;
    std::size_t threads = 4;
    bool allow_http = false;
    std::string console_frame_ancestors = "'none'";  // who may embed /console/ (CSP)
    // The operator token's SHA-256 (hex), never the token; empty = the operators' view is off.
    std::string operator_token_sha256;
    std::size_t max_connections = 0;  // 0: a quarter of the descriptor limit
    std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
    std::chrono::milliseconds header_timeout = std::chrono::seconds(10);
  } api;

  struct delivery_section {
    bool allow_private_networks = false;
    std::vector<std::string> allow_list;  // canonical CIDRs ("10.0.0.0/8", "::1/128")
    std::vector<std::chrono::milliseconds> retry_schedule = {
        std::chrono::seconds(5), std::chrono::minutes(5), std::chrono::minutes(30),
        std::chrono::hours(2),   std::chrono::hours(5),   std::chrono::hours(10),
        std::chrono::hours(10)};
    double retry_jitter = 0.2;  // ± fraction of each retry delay
    std::chrono::milliseconds timeout = std::chrono::seconds(15);
    std::chrono::milliseconds connect_timeout = std::chrono::seconds(5);
    std::size_t io_threads = 0;  // 0: std::thread::hardware_concurrency()
    std::size_t max_in_flight = 1000;
    std::size_t endpoint_concurrency = 10;
    std::size_t endpoint_queue_limit = 100;
    std::chrono::milliseconds endpoint_queue_timeout = std::chrono::seconds(5);
    std::chrono::milliseconds endpoint_stall_after = std::chrono::seconds(1);
    std::size_t breaker_failures = 10;  // 0 = no circuit breaker
    std::chrono::milliseconds breaker_window = std::chrono::minutes(1);
    std::chrono::milliseconds breaker_cool_down = std::chrono::seconds(30);
    std::chrono::milliseconds breaker_max_cool_down = std::chrono::minutes(10);
    double throttle_min_rate = 1;    // requests/s
    double throttle_decrease = 0.5;  // fraction of the rate kept on an overload signal
    double throttle_increase = 5;    // requests/s added per second of successes
    std::chrono::milliseconds auto_disable_after = std::chrono::hours(24 * 5);  // 0 = never
    std::size_t warn_after_dead_letters = 5;                                    // 0 = never
    std::size_t max_response_body = 4096;
    std::string ca_file;  // empty = the system trust store
    std::string proxy;    // http://[user:password@]host:port (http/proxy.hpp); empty = direct
    std::vector<std::string> no_proxy;  // host suffixes and CIDRs that go direct
    bool proxy_resolves = false;        // the proxy resolves target names (and must filter)
    std::chrono::milliseconds retry_lease = std::chrono::seconds(60);
    std::chrono::milliseconds drain_timeout = std::chrono::seconds(10);
  } delivery;

  struct registry_section {
    std::chrono::milliseconds refresh_interval = std::chrono::milliseconds(500);
    // Reloaded even when the version did not change (registry/cache.hpp): how long a change
    // whose writer died before bumping the version can go unseen.
    std::chrono::milliseconds full_refresh_interval = std::chrono::seconds(60);
    std::string encryption_key;  // the 32 decoded bytes; empty = secrets stored plain
  } registry;

  struct log_section {
    tresse::log::level level = tresse::log::level::info;
  } log;
};

struct config_sources {
  std::optional<std::string> file{};                 // path of a `key = value` file
  std::map<std::string, std::string> environment{};  // only TRESSE_<KEY> entries are read
  std::vector<std::string> overrides{};              // "key=value", from --set
};

// Defaults < file < environment < overrides. Throws config_error naming the offending key
// (and the file line) for unknown keys, bad values, and an unreadable file.
config load_config(const config_sources& sources);

// Sets one key from its text form, as a file line or --set would. Throws config_error.
void set_value(config& cfg, std::string_view key, std::string_view value);

// Settings a running dispatcher needs that no source gave (kafka.brokers), as messages saying
// how to set them; empty when `cfg` can run. load_config does not check these, so that --help,
// the probe and tests can load a partial config.
std::vector<std::string> validate(const config& cfg);

// A TRESSE_* variable that names no key (a typo such as TRESSE_DELIVERY_TIMEOUTT, which would
// otherwise be silently ignored), with the key whose variable is nearest to it.
struct unknown_variable {
  std::string name;              // "TRESSE_DELIVERY_TIMEOUTT"
  std::string nearest_variable;  // "TRESSE_DELIVERY_TIMEOUT"
  std::string nearest_key;       // "delivery.timeout"
};
// The TRESSE_* entries of `env` that are not a key's variable (TRESSE_KAFKA_LIBRDKAFKA_<P> are
// all known). Values are never looked at.
std::vector<unknown_variable> unknown_environment(const std::map<std::string, std::string>& env);

// The environment of this process, for config_sources::environment.
std::map<std::string, std::string> process_environment();

// The end of `run --help`: how the sources combine, then one table of every key with its
// default and meaning, generated from the key list the parser uses.
std::string help_text();

// Every key the parser knows, in help order ("kafka.librdkafka.<property>" stands for the
// passthrough family).
std::vector<std::string> config_keys();

}  // namespace tresse::dispatcher
