// tresse-dispatcher: consume events from Kafka, fan out, sign, POST, retry, dead-letter.
//
// `run` is here; the command line and the other subcommands are in cli/command_line.hpp.
//
//   tresse-dispatcher run [--config FILE] [--set key=value ...] [--check]
#include <sys/resource.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "admin/admin_server.hpp"
#include "admin/metrics.hpp"
#include "admin/ordered_gauges.hpp"
#include "api/keys.hpp"
#include "api/openapi_document.hpp"
#include "api/replays.hpp"
#include "api/request_metrics.hpp"
#include "api/server.hpp"
#include "api/service.hpp"
#include "cli/command_line.hpp"
#include "config/config.hpp"
#include "config/startup_checks.hpp"
#include "delivery/engine.hpp"
#include "http/proxy.hpp"
#include "kafka/consumer.hpp"
#include "kafka/dead_letter.hpp"
#include "redis/client.hpp"
#include "redis/keys.hpp"
#include "registry/cache.hpp"
#include "registry/store.hpp"
#include "retry/schedule.hpp"
#include "retry/store.hpp"
#include "tresse/common/kafka.hpp"
#include "tresse/common/kafka_mock_cluster.hpp"
#include "tresse/common/log.hpp"

namespace td = tresse::dispatcher;
using namespace std::chrono_literals;

namespace {

// Writes atomically, so a reader never sees half an address.
void write_file(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text << "\n";
  }
  std::filesystem::rename(tmp, path);
}

// Raises the soft descriptor limit to the hard one and returns it. The listeners then take at
// most a share of it (api_connection_cap), so that a flood of connections leaves the rest to
// the deliveries' own outbound connections, Redis and Kafka.
rlim_t raise_descriptor_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised{lim.rlim_max, lim.rlim_max};
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  return lim.rlim_cur == RLIM_INFINITY ? rlim_t{1} << 20 : lim.rlim_cur;
}

// api.max_connections, or by default a quarter of the descriptors for the API's clients.
std::size_t api_connection_cap(rlim_t descriptors, std::size_t configured) {
  if (configured > 0) return configured;
  return std::max<std::size_t>(16, static_cast<std::size_t>(descriptors / 4));
}

// The descriptor reserve: half of the limit stays for the deliveries' outbound connections,
// Redis and Kafka, whatever the listeners hold. Empty when the listeners' caps respect it, else
// why not.
std::optional<std::string> reserve_problem(rlim_t descriptors, std::size_t api_cap,
                                           std::size_t admin_cap) {
  const auto reserve = static_cast<std::size_t>(descriptors / 2);
  const auto open = static_cast<std::size_t>(descriptors);
  if (api_cap + admin_cap <= open - reserve) return std::nullopt;
  return "api.max_connections (" + std::to_string(api_cap) + ") + admin.max_connections (" +
         std::to_string(admin_cap) + ") exceed half of the descriptor limit (" +
         std::to_string(open) +
         "); the other half is kept for deliveries, Redis and Kafka: lower them or raise the "
         "limit (LimitNOFILE=, ulimit -n)";
}

int run(const td::cli::run_request& cli) {
  // Signals are taken by sigwait in this thread only; every thread created later inherits
  // the mask, so SIGTERM never interrupts a delivery thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  const rlim_t descriptors = raise_descriptor_limit();

  td::config cfg;
  const auto env = td::process_environment();
  try {
    cfg =
        td::load_config({.file = cli.config_file, .environment = env, .overrides = cli.overrides});
  } catch (const td::config_error& e) {
    if (cli.check) {
      std::cout << "FAIL  config: " << e.what() << "\ncheck failed\n";
      return 1;
    }
    std::cerr << "tresse-dispatcher: " << e.what() << "\n";
    return 2;
  }
  if (cli.check) return td::run_check(cfg, env);
  tresse::log::set_level(cfg.log.level);
  td::warn_unknown_environment(env);
  if (const auto problems = td::validate(cfg); !problems.empty()) {
    for (const auto& p : problems) std::cerr << "tresse-dispatcher: " << p << "\n";
    return 2;
  }

  const std::size_t api_cap = api_connection_cap(descriptors, cfg.api.max_connections);
  if (auto why = reserve_problem(descriptors, cfg.api.listen ? api_cap : 0,
                                 cfg.admin.max_connections)) {
    std::cerr << "tresse-dispatcher: " << *why << "\n";
    return 2;
  }

  auto redis_opts = td::redis::parse_url(cfg.redis.url);
  if (!redis_opts) {
    tresse::log::error("bad redis.url", {{"error", redis_opts.error().message}});
    return 2;
  }
  redis_opts->wait_timeout = cfg.redis.wait_timeout;
  auto redis = std::make_shared<td::redis::client>(*redis_opts);
  std::atomic<bool> redis_refused{false};
  std::jthread redis_watch;  // joined before `redis` goes
  switch (td::check_redis(*redis)) {
    case td::redis_verdict::refused:
      return 2;
    case td::redis_verdict::unknown:
      redis_watch = td::watch_redis_until_checked(*redis, redis_refused);
      break;
    case td::redis_verdict::safe:
      break;
  }
  redis_opts->wait_replicas = td::wait_replicas(cfg, *redis);

  std::unique_ptr<tresse::kafka::mock_cluster> embedded;
  std::string brokers = cfg.kafka.brokers;
  const bool kafka_embedded = brokers == "embedded";
  if (kafka_embedded) {
    tresse::log::warn(std::string(td::embedded_warning));
    auto cluster = tresse::kafka::mock_cluster::start(
        {.partitions = 4,
         .topics = {cfg.kafka.topic, cfg.kafka.dead_letter_topic, cfg.kafka.ops_topic}});
    if (!cluster) {
      tresse::log::error("embedded Kafka failed to start", {{"error", cluster.error().message}});
      return 1;
    }
    embedded = std::move(*cluster);
    brokers = embedded->bootstrap();
    tresse::log::info("embedded Kafka mock cluster started", {{"bootstrap", brokers}});
    if (!cfg.kafka.embedded_bootstrap_file.empty()) {
      write_file(cfg.kafka.embedded_bootstrap_file, brokers);
    }
  }
  tresse::kafka::config_map kafka_extra(cfg.kafka.librdkafka.begin(), cfg.kafka.librdkafka.end());

  td::registry::store_options store_opts;
  store_opts.retry_shards = cfg.retry.shards;
  std::optional<td::registry::secret_box> encryption;
  if (!cfg.registry.encryption_key.empty()) {
    auto box = td::registry::secret_box::from_bytes(cfg.registry.encryption_key);
    if (!box) {
      tresse::log::error("bad registry.encryption_key", {{"error", box.error().message}});
      return 2;
    }
    store_opts.encryption = *box;
    encryption = std::move(*box);
  }
  td::registry::store registry(redis, std::move(store_opts));
  td::registry::cache endpoints(registry,
                                {.refresh_interval = cfg.registry.refresh_interval,
                                 .full_refresh_interval = cfg.registry.full_refresh_interval});
  if (auto st = endpoints.start(); !st) {
    // Keep going: the cache retries in the background, and Kafka offsets wait for it.
    tresse::log::warn("endpoint registry not loaded yet", {{"error", st.error().message}});
  }
  td::retry::store retries(redis, {.shards = cfg.retry.shards});
  // Every instance must place and claim tasks in the same shards.
  if (auto st = retries.check_shard_count(); !st) {
    if (st.error().kind != tresse::error_kind::transient) {
      tresse::log::error("retry.shards does not match Redis", {{"error", st.error().message}});
      return 2;
    }
    tresse::log::warn("retry.shards not checked against Redis", {{"error", st.error().message}});
  }
  // Retries of a version before shards would wait unclaimed.
  // Two commands, not one EXISTS of both: on a Redis Cluster the keys are in different slots.
  if (auto legacy = redis->pipeline(td::redis::command_list()
                                        .add({"EXISTS", td::redis::keys::legacy::retry_due})
                                        .add({"EXISTS", td::redis::keys::legacy::retry_claimed}));
      legacy && (legacy->at(0).integer > 0 || legacy->at(1).integer > 0)) {
    tresse::log::warn("Redis holds a retry schedule in the old layout: stop the dispatchers and "
                      "run `tresse-dispatcher migrate-keys`");
  }
  td::retry::schedule schedule(cfg.delivery.retry_schedule, cfg.delivery.retry_jitter);

  auto producer = tresse::kafka::producer::create({.brokers = brokers, .extra = kafka_extra});
  if (!producer) {
    tresse::log::error("Kafka producer failed", {{"error", producer.error().message}});
    return 1;
  }
  std::shared_ptr<tresse::kafka::producer> shared_producer = std::move(*producer);
  td::kafka::dead_letter_producer dead_letters(shared_producer,
                                               {.topic = cfg.kafka.dead_letter_topic});

  td::metrics stats;
  td::engine_options eopts;
  eopts.http.connect_timeout = cfg.delivery.connect_timeout;
  eopts.http.total_timeout = cfg.delivery.timeout;
  eopts.http.max_response_body = cfg.delivery.max_response_body;
  eopts.http.allow_private_networks = cfg.delivery.allow_private_networks;
  eopts.http.allow_list = cfg.delivery.allow_list;
  eopts.http.ca_file = cfg.delivery.ca_file;
  eopts.http.proxy = cfg.delivery.proxy;
  eopts.http.no_proxy = cfg.delivery.no_proxy;
  eopts.http.proxy_resolves = cfg.delivery.proxy_resolves;
  eopts.io_threads = cfg.delivery.io_threads;
  eopts.redis = *redis_opts;
  eopts.max_in_flight = cfg.delivery.max_in_flight;
  eopts.endpoint_concurrency = cfg.delivery.endpoint_concurrency;
  eopts.endpoint_queue_limit = cfg.delivery.endpoint_queue_limit;
  eopts.endpoint_queue_timeout = cfg.delivery.endpoint_queue_timeout;
  eopts.endpoint_stall_after = cfg.delivery.endpoint_stall_after;
  eopts.breaker = {.failure_threshold = cfg.delivery.breaker_failures,
                   .window = cfg.delivery.breaker_window,
                   .cool_down = cfg.delivery.breaker_cool_down,
                   .max_cool_down = cfg.delivery.breaker_max_cool_down};
  eopts.throttle = {.min_rate = cfg.delivery.throttle_min_rate,
                    .decrease = cfg.delivery.throttle_decrease,
                    .increase = cfg.delivery.throttle_increase};
  eopts.auto_disable_after = cfg.delivery.auto_disable_after;
  eopts.warn_after_dead_letters = static_cast<std::int64_t>(cfg.delivery.warn_after_dead_letters);
  td::health::breaker_store breakers(redis);
  td::kafka::ops_publisher ops(shared_producer, {.topic = cfg.kafka.ops_topic});
  td::health::report_store health_reports(redis);
  eopts.max_event_bytes = cfg.kafka.max_event_bytes;
  eopts.retry_lease = cfg.delivery.retry_lease;
  std::unique_ptr<td::engine> engine;
  try {
    engine = std::make_unique<td::engine>(
        td::engine_deps{endpoints, registry, retries, schedule, dead_letters, stats, &breakers,
                        &ops, &health_reports},
        eopts);
  } catch (const std::exception& e) {  // bad allow-list entry or CA file
    tresse::log::error("delivery setup failed", {{"error", e.what()}});
    return 2;
  }
  // Hand-offs can come before create() returns, so they wait for the pointer.
  std::promise<td::kafka::consumer*> consumer_ready;
  std::shared_future<td::kafka::consumer*> consumer_ptr = consumer_ready.get_future().share();
  engine->start([consumer_ptr](std::int32_t partition, std::int64_t offset) {
    consumer_ptr.get()->done(partition, offset);
  });
  auto consumer = td::kafka::consumer::create(
      {.brokers = brokers,
       .group_id = cfg.kafka.group,
       .topic = cfg.kafka.topic,
       .max_in_flight = cfg.kafka.max_pending,
       .extra = kafka_extra},
      td::kafka::consumer::batch_handler(
          [&engine](std::vector<td::kafka::message> batch) { engine->submit(std::move(batch)); }));
  if (!consumer) {
    tresse::log::error("Kafka consumer failed", {{"error", consumer.error().message}});
    return 1;
  }
  consumer_ready.set_value(consumer->get());

  stats.make_callback_gauge("tresse_retry_backlog", "Deliveries waiting in the retry schedule",
                            [&retries] {
                              auto n = retries.backlog();
                              return n ? static_cast<double>(n->scheduled + n->claimed) : -1.0;
                            });
  td::register_ordered_gauges(stats, endpoints, redis, retries.shards());
  // /metrics and the operators' view (api/ops_view.hpp) read the same number.
  std::function<std::optional<double>()> consumer_lag = [c = consumer->get()] {
    double total = 0;
    for (const auto& p : c->lag()) total += p.lag > 0 ? p.lag : 0;
    return std::optional<double>(total);
  };
  stats.make_callback_gauge("tresse_consumer_lag", "Messages behind the partitions' ends",
                            [consumer_lag] { return *consumer_lag(); });
  stats.make_callback_gauge("tresse_consumer_in_flight", "Kafka messages not yet handed off",
                            [c = consumer->get()] { return static_cast<double>(c->in_flight()); });

  // With a proxy, /readyz also says whether deliveries can leave through it.
  td::readiness_checks checks{
      .kafka = [&] { return td::kafka_reachable(shared_producer->handle()); },
      .redis = [&] { return static_cast<bool>(redis->ping()); },
      .kafka_embedded = kafka_embedded};
  if (!cfg.delivery.proxy.empty()) {
    auto egress = td::http::proxy::parse(cfg.delivery.proxy);  // checked by the config already
    if (egress) {
      checks.proxy = [egress = *std::move(egress)] { return td::http::proxy_reachable(egress, 1s); };
      checks.proxy_failing = [&engine] { return engine->proxy_health().failing(); };
    }
  }
  td::readiness ready(std::move(checks));  // before the admin server: it outlives it
  auto admin = td::start_admin_server({.host = cfg.admin.listen.host,
                                       .port = cfg.admin.listen.port,
                                       .idle_timeout = cfg.admin.idle_timeout,
                                       .header_timeout = cfg.admin.header_timeout,
                                       .max_connections = cfg.admin.max_connections,
                                       .close_idle_when_full = true},
                                      stats, ready);
  if (!admin) {
    tresse::log::error("admin listener failed", {{"error", admin.error().message}});
    return 1;
  }
  // The management API: its own threads and Redis connections, since its handlers block.
  std::unique_ptr<td::api::replays> replays;
  std::unique_ptr<td::api::service> api_service;
  std::optional<td::api::request_metrics> api_requests;
  std::optional<td::console::assets> console_site;
  std::optional<tresse::http::server> api_server;
  if (cfg.api.listen) {
    auto api_redis_opts = *redis_opts;
    api_redis_opts.pool_size = cfg.api.threads + 2;  // + the replay workers
    auto api_redis = std::make_shared<td::redis::client>(api_redis_opts);
    replays = std::make_unique<td::api::replays>(
        api_redis, retries,
        td::api::replay_options{
            .scan = {.brokers = brokers, .topic = cfg.kafka.topic, .extra = kafka_extra}});
    api_service = std::make_unique<td::api::service>(
        td::api::service_deps{api_redis, registry, retries, *replays, *shared_producer,
                              {.endpoints = &endpoints,
                               .consumer_lag = consumer_lag,
                               .retry_shards = retries.shards()}},
        td::api::service_options{.rate_limit_per_minute = cfg.api.rate_limit_per_minute,
                                 .allow_http_live = cfg.api.allow_http,
                                 .url_guard = {.allow_private_networks =
                                                   cfg.delivery.allow_private_networks,
                                               .allow_list = cfg.delivery.allow_list},
                                 .events_topic = cfg.kafka.topic,
                                 .openapi_document = std::string(td::api::openapi_document()),
                                 .encryption = encryption,
                                 .operator_token_sha256 = cfg.api.operator_token_sha256});
    api_requests.emplace(stats, td::api::route_table(td::api::openapi_document()));
    console_site.emplace(td::console::assets_options{
        .frame_ancestors = cfg.api.console_frame_ancestors,
        .ops = !cfg.api.operator_token_sha256.empty()});
    auto srv = td::api::start_server({.host = cfg.api.listen->host,
                                      .port = cfg.api.listen->port,
                                      .threads = cfg.api.threads,
                                      .idle_timeout = cfg.api.idle_timeout,
                                      .header_timeout = cfg.api.header_timeout,
                                      .max_connections = api_cap,
                                      .close_idle_when_full = true},
                                     *api_service, "x-tresse-peer", *api_requests,
                                     *console_site);
    if (!srv) {
      tresse::log::error("management API listener failed", {{"error", srv.error().message}});
      return 1;
    }
    api_server.emplace(std::move(*srv));
    tresse::log::info("management API listening",
                      {{"api", cfg.api.listen->host + ":" + std::to_string(api_server->port())}});
  }

  tresse::log::info("dispatcher running", {{"brokers", brokers},
                                           {"topic", cfg.kafka.topic},
                                           {"group", cfg.kafka.group},
                                           {"admin", cfg.admin.listen.host + ":" +
                                                         std::to_string(admin->port())}});

  int sig = 0;
  sigwait(&signals, &sig);
  if (api_server) api_server->stop();
  if (replays) replays->stop();
  tresse::log::info("stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"},
                                 {"drain_timeout_ms", cfg.delivery.drain_timeout.count()}});
  // The consumer stops fetching and waits for in-flight records while the engine finishes
  // them; then it commits. Whatever is left is abandoned uncommitted (Kafka redelivers it).
  if (auto st = (*consumer)->stop(cfg.delivery.drain_timeout); !st) {
    tresse::log::warn("stopped with unfinished records", {{"detail", st.error().message}});
  }
  engine->stop(1s);
  endpoints.stop();
  admin->stop();
  (void)shared_producer->flush(5s);
  tresse::log::info("stopped");
  return redis_refused ? 2 : 0;
}

}  // namespace

int main(int argc, char** argv) { return td::cli::main(argc, argv, run); }
