// What `tresse-dispatcher run` checks before it starts, and `run --check` reports: the
// config, the brokers answering, and a Redis safe to keep the dispatcher's state in
// (redis/server_check.hpp). main.cpp's run() calls these; they hold no running parts.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <thread>

#include "config/config.hpp"
#include "redis/client.hpp"

namespace tresse::dispatcher {

// Brokers that answered a metadata request within `timeout` (0: none, or no answer).
int kafka_brokers_answering(rd_kafka_t* rk, std::chrono::milliseconds timeout);
// /readyz's Kafka check: a broker answered within 1 s.
bool kafka_reachable(rd_kafka_t* rk);

// Logged at start, and in run --check, when kafka.brokers=embedded.
extern const std::string_view embedded_warning;

// Logs the TRESSE_* variables that name no key (they would be ignored), never their values.
void warn_unknown_environment(const std::map<std::string, std::string>& env);

enum class redis_verdict { safe, refused, unknown };

// Redis: refuse one that evicts keys, warn when it persists nothing; unknown while Redis does
// not answer.
redis_verdict check_redis(redis::client& redis);

// For a Redis unreachable at start: checks it as soon as it answers; if it is then refused,
// sets `refused` and stops the process (SIGTERM to itself: the usual drain), which then exits 2.
std::jthread watch_redis_until_checked(redis::client& redis, std::atomic<bool>& refused);

// redis.wait_replicas for redis::options: the configured number, or redis::options::wait_auto
// (each shard's writer then asks ROLE). Logs the choice, with the replicas the primary has now.
int wait_replicas(const config& cfg, redis::client& redis);

// run --check: everything a start needs, tried and reported one line each on stdout; 0 when
// all passed, else 1.
int run_check(const config& cfg, const std::map<std::string, std::string>& env);

}  // namespace tresse::dispatcher
