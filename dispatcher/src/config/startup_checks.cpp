#include "config/startup_checks.hpp"

#include <signal.h>
#include <unistd.h>

#include <functional>
#include <iostream>

#include "redis/keys.hpp"
#include "redis/server_check.hpp"
#include "tresse/common/kafka.hpp"
#include "tresse/common/log.hpp"

namespace tresse::dispatcher {
namespace td = ::tresse::dispatcher;
using namespace std::chrono_literals;

int kafka_brokers_answering(rd_kafka_t* rk, std::chrono::milliseconds timeout) {
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk, 0, nullptr, &md, static_cast<int>(timeout.count())) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    return 0;
  }
  const int n = md->broker_cnt;
  rd_kafka_metadata_destroy(md);
  return n;
}

bool kafka_reachable(rd_kafka_t* rk) { return kafka_brokers_answering(rk, 1s) > 0; }

const std::string_view embedded_warning =
    "kafka.brokers=embedded: events go to librdkafka's in-process mock cluster, kept in memory "
    "and lost at exit; for try-outs and tests, not for production";

void warn_unknown_environment(const std::map<std::string, std::string>& env) {
  for (const auto& u : td::unknown_environment(env)) {
    tresse::log::warn(
        "unknown environment variable ignored",
        {{"variable", u.name}, {"nearest", u.nearest_variable}, {"key", u.nearest_key}});
  }
}

redis_verdict check_redis(td::redis::client& redis) {
  auto facts = td::redis::read_server_facts(redis);
  if (!facts) return redis_verdict::unknown;
  const auto verdict = td::redis::assess(*facts);
  for (const auto& w : verdict.warnings) tresse::log::warn("Redis", {{"warning", w}});
  for (const auto& e : verdict.errors) tresse::log::error("Redis refused", {{"reason", e}});
  return verdict.errors.empty() ? redis_verdict::safe : redis_verdict::refused;
}

int wait_replicas(const config& cfg, td::redis::client& redis) {
  if (cfg.redis.wait_replicas) {
    const int n = static_cast<int>(*cfg.redis.wait_replicas);
    tresse::log::info("redis hand-offs wait for replicas",
                      {{"wait_replicas", std::to_string(n)}, {"why", "configured"}});
    return n;
  }
  if (!redis.config().cluster_nodes.empty()) {
    // Each write's WAIT and ROLE go to the primary of its slot (delivery/redis_writer.hpp).
    const auto facts = td::redis::read_cluster_facts(redis);
    tresse::log::info("redis hand-offs wait for replicas",
                      {{"wait_replicas", "auto"},
                       {"why", "1 while the write's primary has a replica; Redis Cluster: " +
                                   (facts ? td::redis::describe(*facts) : facts.error().message)}});
    return td::redis::options::wait_auto;
  }
  const auto role = td::redis::read_role(redis);
  tresse::log::info(
      "redis hand-offs wait for replicas",
      {{"wait_replicas", "auto"},
       {"why", role ? "1 while the primary has a replica; it has " +
                          std::to_string(role->replicas) + " now"
                    : "1 while the primary has a replica (ROLE on every shard's connection)"}});
  return td::redis::options::wait_auto;
}

std::jthread watch_redis_until_checked(td::redis::client& redis, std::atomic<bool>& refused) {
  tresse::log::warn("Redis unreachable at start: its maxmemory-policy and persistence are "
                    "checked once it answers");
  return std::jthread([&redis, &refused](const std::stop_token& stop) {
    while (!stop.stop_requested()) {
      const auto verdict = check_redis(redis);
      if (verdict == redis_verdict::refused) {
        refused = true;
        ::kill(::getpid(), SIGTERM);
      }
      if (verdict != redis_verdict::unknown) return;
      for (int i = 0; i < 10 && !stop.stop_requested(); ++i) std::this_thread::sleep_for(100ms);
    }
  });
}

namespace {

using report_fn = std::function<void(std::string_view verdict, std::string_view what)>;

// Every slot must have a primary, or the keys hashed there have no home.
void report_cluster(td::redis::client& redis, const report_fn& report) {
  auto facts = td::redis::read_cluster_facts(redis);
  if (!facts) {
    report("FAIL", "redis: CLUSTER SLOTS: " + facts.error().message);
    return;
  }
  const bool covered = facts->slots_served == td::redis::cluster_slot_count;
  report(covered ? "ok" : "FAIL", "redis: Redis Cluster: " + td::redis::describe(*facts));
}

// Every instance must place and claim retries in the same shards (retry/store.hpp).
void report_retry_shards(const td::config& cfg, td::redis::client& redis,
                         const report_fn& report) {
  const std::string mine = "retry.shards " + std::to_string(cfg.retry.shards);
  auto recorded = redis.command({"GET", td::redis::keys::retry_shard_count});
  if (!recorded) {
    report("FAIL", "retry: " + std::string(td::redis::keys::retry_shard_count) + ": " +
                       recorded.error().message);
  } else if (recorded->is_nil()) {
    report("ok", "retry: " + mine + " (not recorded in Redis yet: the first start records it)");
  } else if (recorded->str == std::to_string(cfg.retry.shards)) {
    report("ok", "retry: " + mine + ", as recorded in Redis");
  } else {
    report("FAIL", "retry: " + mine + ", but Redis records " + recorded->str +
                       " (run `tresse-dispatcher migrate-keys --retry-shards " +
                       std::to_string(cfg.retry.shards) + "`)");
  }
}

}  // namespace

int run_check(const td::config& cfg, const std::map<std::string, std::string>& env) {
  bool ok = true;
  const auto report = [&](std::string_view verdict, std::string_view what) {
    if (verdict == "FAIL") ok = false;
    std::cout << verdict << std::string(6 - verdict.size(), ' ') << what << "\n";
  };
  const auto problems = td::validate(cfg);
  for (const auto& p : problems) report("FAIL", "config: " + p);
  if (problems.empty()) report("ok", "config: every key parsed and the required ones are set");
  for (const auto& u : td::unknown_environment(env)) {
    report("warn", "config: " + u.name +
                       " is not a configuration variable and is ignored (nearest: " +
                       u.nearest_variable + ", key " + u.nearest_key + ")");
  }

  if (cfg.kafka.brokers == "embedded") {
    report("warn", "kafka: embedded (not for production): " + std::string(embedded_warning));
  } else if (!cfg.kafka.brokers.empty()) {
    auto producer = tresse::kafka::producer::create(
        {.brokers = cfg.kafka.brokers,
         .extra =
             tresse::kafka::config_map(cfg.kafka.librdkafka.begin(), cfg.kafka.librdkafka.end())});
    if (!producer) {
      report("FAIL", "kafka: " + producer.error().message);
    } else if (const int n = kafka_brokers_answering((*producer)->handle(), 5s); n == 0) {
      report("FAIL", "kafka: no broker of " + cfg.kafka.brokers + " answered within 5s");
    } else {
      report("ok", "kafka: " + cfg.kafka.brokers + " answered (" + std::to_string(n) + " broker" +
                       (n == 1 ? "" : "s") + " in the cluster)");
    }
  }

  if (auto opts = td::redis::parse_url(cfg.redis.url); !opts) {
    report("FAIL", "redis.url: " + opts.error().message);
  } else {
    opts->pool_size = 1;
    td::redis::client redis(*opts);
    if (auto pong = redis.ping(); !pong) {
      report("FAIL", "redis: " + pong.error().message);
    } else if (auto facts = td::redis::read_server_facts(redis); !facts) {
      report("FAIL", "redis: " + facts.error().message);
    } else {
      const auto verdict = td::redis::assess(*facts);
      for (const auto& e : verdict.errors) report("FAIL", "redis: " + e);
      for (const auto& w : verdict.warnings) report("warn", "redis: " + w);
      if (verdict.errors.empty() && opts->cluster_nodes.empty()) {
        const auto role = td::redis::read_role(redis);
        const std::string who = opts->uses_sentinel() ? "the primary the sentinels named " : "";
        report("ok", "redis: " + who + "answered; maxmemory-policy " +
                         facts->maxmemory_policy.value_or("?") + "; " +
                         (role ? std::to_string(role->replicas) + " replica(s) connected"
                               : "ROLE: " + role.error().message));
      }
      if (!opts->cluster_nodes.empty()) report_cluster(redis, report);
      report_retry_shards(cfg, redis, report);
    }
  }
  std::cout << (ok ? "check passed\n" : "check failed\n");
  return ok ? 0 : 1;
}

}  // namespace tresse::dispatcher
