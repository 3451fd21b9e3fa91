// End to end: what `tresse-dispatcher run` refuses or warns about at start (no Kafka brokers
// named, an evicting Redis, no persistence, unknown TRESSE_* variables), `run --check`, the
// embedded mock cluster only when asked for, and `tresse-dispatcher healthcheck`.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "harness.hpp"
#include "redis/client.hpp"
#include "redis/keys.hpp"
#include "registry/secret_box.hpp"

namespace tresse::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

class StartupTest : public integration_test {
 protected:
  // `tresse-dispatcher run` with `settings` as --set, in `env` (NAME=value entries), for starts
  // that must end on their own.
  static process_result run_until_exit(const std::vector<std::string>& settings,
                                       const std::vector<std::string>& env = {},
                                       bool check = false) {
    std::vector<std::string> argv = {"/usr/bin/env"};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.insert(argv.end(), {TRESSE_DISPATCHER_BIN, "run"});
    if (check) argv.emplace_back("--check");
    for (const auto& s : settings) argv.insert(argv.end(), {"--set", s});
    return run_process(argv, {}, 60s);
  }

  // `run --check`.
  static process_result check(const std::vector<std::string>& settings,
                              const std::vector<std::string>& env = {}) {
    return run_until_exit(settings, env, /*check=*/true);
  }

  // The JSON log lines of `stderr_text`.
  static std::vector<nlohmann::json> json_lines(const std::string& stderr_text) {
    std::vector<nlohmann::json> out;
    std::istringstream in(stderr_text);
    for (std::string line; std::getline(in, line);) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object()) out.push_back(std::move(j));
    }
    return out;
  }

  static std::vector<std::string> without_brokers(std::vector<std::string> settings) {
    std::erase_if(settings, [](const std::string& s) { return s.starts_with("kafka.brokers="); });
    return settings;
  }
};

TEST_F(StartupTest, RefusesToStartWithoutKafkaBrokersAndSaysHowToSetThem) {
  auto r = run_until_exit(without_brokers(base_settings()));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("kafka.brokers is not set"));
  EXPECT_THAT(r.err, HasSubstr("TRESSE_KAFKA_BROKERS"));
  EXPECT_THAT(r.err, HasSubstr("--set kafka.brokers="));
  EXPECT_THAT(r.err, Not(HasSubstr("mock cluster started")));
}

TEST_F(StartupTest, EmbeddedKafkaOnlyWhenAskedForWarnsAndReadyzSaysSo) {
  auto settings = without_brokers(base_settings());
  settings.push_back("kafka.brokers=embedded");
  auto& d = start_dispatcher(settings);
  auto port = d.admin_port();
  bool warned = false;
  for (const auto& j : d.log_lines()) {
    warned = warned || (j.value("level", "") == "warn" &&
                        j.value("msg", "").starts_with("kafka.brokers=embedded") &&
                        j.value("msg", "").find("not for production") != std::string::npos);
  }
  EXPECT_TRUE(warned) << d.log_text();
  std::pair<unsigned, std::string> ready;
  EXPECT_TRUE(eventually_true([&] {
    ready = http_get(port, "/readyz");
    return ready.first == 200;
  })) << ready.second;
  auto body = nlohmann::json::parse(ready.second, nullptr, false);
  ASSERT_TRUE(body.is_object()) << ready.second;
  EXPECT_EQ(body.value("kafka", ""), "embedded (not for production)");
  EXPECT_EQ(body.value("redis", ""), "ok");
  EXPECT_EQ(body.value("ready", false), true);
}

TEST_F(StartupTest, ReadyzSaysOkForARealCluster) {
  auto& d = start_dispatcher();
  auto port = d.admin_port();
  std::pair<unsigned, std::string> ready;
  EXPECT_TRUE(eventually_true([&] {
    ready = http_get(port, "/readyz");
    return ready.first == 200;
  }));
  auto body = nlohmann::json::parse(ready.second, nullptr, false);
  EXPECT_EQ(body.value("kafka", ""), "ok") << ready.second;
}

TEST_F(StartupTest, RefusesARedisThatEvictsKeys) {
  redis_server evicting({.persistence = true, .extra = {"--maxmemory-policy", "allkeys-lru"}});
  auto settings = base_settings();
  settings.push_back("redis.url=" + evicting.url());
  auto r = run_until_exit(settings);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  std::string reason;
  for (const auto& j : json_lines(r.err)) {
    if (j.value("msg", "") == "Redis refused") reason = j.value("reason", "");
  }
  EXPECT_THAT(reason, HasSubstr("allkeys-lru"));
  EXPECT_THAT(reason, HasSubstr("noeviction"));
  EXPECT_THAT(reason, HasSubstr("scheduled retries"));
  EXPECT_THAT(r.err, Not(HasSubstr("dispatcher running")));
}

// Instances with different retry.shards would look for tasks in each other's wrong shards: the
// count in Redis wins, another is refused; the old layout's schedule gets a warning.
TEST_F(StartupTest, RefusesARetryShardCountOtherThanRedisHolds) {
  redis_server holding({.persistence = true});
  dispatcher::redis::client c(*dispatcher::redis::parse_url(holding.url()));
  ASSERT_TRUE(c.command({"SET", dispatcher::redis::keys::retry_shard_count, "8"}).has_value());
  ASSERT_TRUE(c.command({"ZADD", dispatcher::redis::keys::legacy::retry_due, "1", "evt_1:we_1"})
                  .has_value());
  auto settings = base_settings();
  settings.push_back("redis.url=" + holding.url());
  auto r = run_until_exit(settings);  // retry.shards: 16 by default
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("retry.shards does not match Redis"));
  EXPECT_THAT(r.err, HasSubstr("migrate-keys --retry-shards 16"));

  auto& d = start_dispatcher({"redis.url=" + holding.url(), "retry.shards=8"});
  d.admin_port();  // it started
  EXPECT_THAT(d.log_text(), HasSubstr("old layout"));
}

// A Redis that was down at the start is checked when it answers: an evicting one then stops
// the dispatcher (drained), with the exit code a refusal at start has.
TEST_F(StartupTest, RefusesAnEvictingRedisThatComesUpAfterTheStart) {
  redis_server late({.persistence = true, .extra = {"--maxmemory-policy", "allkeys-lru"}});
  const std::string url = late.url();
  late.stop();
  auto& d = start_dispatcher({"redis.url=" + url});
  ASSERT_TRUE(d.wait_for_log(
      "Redis unreachable at start: its maxmemory-policy and persistence are checked once it "
      "answers"))
      << d.log_text();
  EXPECT_TRUE(d.running());
  late.start();
  EXPECT_TRUE(eventually_true([&] { return !d.running(); }, 60s)) << d.log_text();
  EXPECT_EQ(d.exit_code(), 2) << d.log_text();
  auto refused = d.wait_for_log("Redis refused", {}, 1s);
  ASSERT_TRUE(refused) << d.log_text();
  EXPECT_THAT(refused->value("reason", ""), HasSubstr("allkeys-lru"));
  EXPECT_TRUE(d.wait_for_log("stopped", {}, 1s)) << d.log_text();  // drained, not killed
}

TEST_F(StartupTest, WarnsWhenRedisPersistsNothing) {
  redis_server volatile_redis;  // --save "" --appendonly no
  auto& d = start_dispatcher({"redis.url=" + volatile_redis.url()});
  d.admin_port();  // it started
  bool warned = false;
  for (const auto& j : d.log_lines()) {
    warned = warned || (j.value("level", "") == "warn" &&
                        j.value("warning", "").find("neither AOF nor RDB") != std::string::npos);
  }
  EXPECT_TRUE(warned) << d.log_text();
  // The fixture's Redis (AOF on) gets no such warning.
  auto& quiet = start_dispatcher();
  quiet.admin_port();
  EXPECT_THAT(quiet.log_text(), Not(HasSubstr("neither AOF nor RDB")));
}

TEST_F(StartupTest, WarnsAboutUnknownTresseVariablesNamingTheNearestKey) {
  // run logs it at start (here a start that then stops at an evicting Redis, so that it exits).
  redis_server evicting({.persistence = true, .extra = {"--maxmemory-policy", "allkeys-lru"}});
  auto settings = base_settings();
  settings.push_back("redis.url=" + evicting.url());
  auto started = run_until_exit(settings, {"TRESSE_DELIVERY_TIMEOUTT=5s"});
  bool warned = false;
  for (const auto& j : json_lines(started.err)) {
    warned = warned || (j.value("level", "") == "warn" &&
                        j.value("variable", "") == "TRESSE_DELIVERY_TIMEOUTT" &&
                        j.value("nearest", "") == "TRESSE_DELIVERY_TIMEOUT" &&
                        j.value("key", "") == "delivery.timeout");
  }
  EXPECT_TRUE(warned) << started.err;
  // run --check reports the same finding.
  auto r = check(base_settings(), {"TRESSE_DELIVERY_TIMEOUTT=5s"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("TRESSE_DELIVERY_TIMEOUTT"));
  EXPECT_THAT(r.out, HasSubstr("nearest: TRESSE_DELIVERY_TIMEOUT, key delivery.timeout"));
  EXPECT_THAT(r.out, Not(HasSubstr("5s")));  // values are never shown
}

// One key parser: the ops command seals an endpoint's secret with the key given as base64, the
// daemon opens it with the same key given as hex (which it used to refuse), and signs with it.
TEST_F(StartupTest, OneEncryptionKeyInEitherFormServesTheOpsCommandsAndTheDaemon) {
  std::string bytes;
  for (int i = 0; i < 32; ++i) bytes.push_back(static_cast<char>(i * 7 + 3));
  std::string hex;
  for (unsigned char c : bytes)
    hex += std::string(1, "0123456789abcdef"[c >> 4]) + "0123456789abcdef"[c & 15];
  const std::string b64 = dispatcher::registry::base64_encode(bytes);

  recording_sink sink;
  auto ep = cli({"endpoints", "create", "--business", "biz_key", "--url", sink.url(), "--events",
                 "*", "--encryption-key", b64});
  const std::string secret = ep.value("secret", "");
  ASSERT_TRUE(secret.starts_with("whsec_")) << ep.dump();
  auto& d = start_dispatcher({"registry.encryption_key=" + hex});
  d.admin_port();
  publish({make_event("client.created", "biz_key")});
  ASSERT_TRUE(sink.wait_for_count(1)) << d.log_text();
  auto ok = verify(sink.requests().front(), {secret});
  EXPECT_TRUE(ok) << ok.message;
  // Sealed at rest, not plain.
  dispatcher::redis::client redis(*dispatcher::redis::parse_url(redis_.url()));
  auto stored = redis.command({"GET", dispatcher::redis::keys::endpoint(ep.value("id", ""))});
  ASSERT_TRUE(stored.has_value());
  EXPECT_NE(stored->str.find("secrets_sealed"), std::string::npos);
  EXPECT_EQ(stored->str.find(secret), std::string::npos);
  // Another key cannot open it.
  auto wrong = run_process({TRESSE_DISPATCHER_BIN, "endpoints", "get", "--id", ep.value("id", ""),
                            "--encryption-key", std::string(64, 'e'), "--redis", redis_.url()});
  EXPECT_EQ(wrong.exit_code, 1) << wrong.out << wrong.err;
  // And the ops command reads it with the key as hex.
  EXPECT_EQ(cli({"endpoints", "get", "--id", ep.value("id", ""), "--encryption-key", hex})
                .value("id", ""),
            ep.value("id", ""));
}

TEST_F(StartupTest, CheckPassesAgainstARealClusterAndRedis) {
  auto r = check(base_settings());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("ok    kafka: " + kafka_.bootstrap() + " answered"));
  EXPECT_THAT(r.out, HasSubstr("ok    redis: answered; maxmemory-policy noeviction"));
  EXPECT_THAT(r.out, HasSubstr("check passed"));
}

TEST_F(StartupTest, CheckFailsWithTheReasons) {
  redis_server evicting({.persistence = true, .extra = {"--maxmemory-policy", "volatile-ttl"}});
  // Nothing listens on a port a socket was just bound to and closed.
  const std::string dead = "127.0.0.1:" + std::to_string(free_port());

  auto settings = without_brokers(base_settings());
  settings.push_back("kafka.brokers=" + dead);
  // A password in the URL, which the report must not show.
  std::erase_if(settings, [](const std::string& s) { return s.starts_with("redis.url="); });
  settings.push_back("redis.url=redis://:hunter2@127.0.0.1:" + std::to_string(evicting.port()));
  auto r = check(settings);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("FAIL  kafka: no broker of " + dead + " answered"));
  EXPECT_THAT(r.out, HasSubstr("FAIL  redis: "));
  EXPECT_THAT(r.out, HasSubstr("check failed"));
  EXPECT_THAT(r.out + r.err, Not(HasSubstr("hunter2")));

  // Without the password: Redis answers, and its policy is the failure.
  settings.back() = "redis.url=" + evicting.url();
  r = check(settings);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out,
              HasSubstr("FAIL  redis: Redis maxmemory-policy is volatile-ttl, not noeviction"));

  // A config that does not load, or lacks the brokers, fails the check the same way (exit 1).
  r = check({"delivery.timeout=soon"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("FAIL  config: --set delivery.timeout"));
  r = check(without_brokers(base_settings()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("FAIL  config: kafka.brokers is not set"));
}

TEST_F(StartupTest, HealthcheckProbesReadyz) {
  auto& d = start_dispatcher();
  const std::string address = "127.0.0.1:" + std::to_string(d.admin_port());
  const auto healthcheck = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {TRESSE_DISPATCHER_BIN, "healthcheck"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_process(argv, {}, 30s);
  };
  process_result r;
  EXPECT_TRUE(eventually_true([&] {
    r = healthcheck({"--address", address});
    return r.exit_code == 0;
  })) << r.out
      << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"ready\": true"));
  // The environment's admin.listen, a wildcard host probed on loopback.
  r = run_process({"/usr/bin/env", "TRESSE_ADMIN_LISTEN=0.0.0.0:" + std::to_string(d.admin_port()),
                   TRESSE_DISPATCHER_BIN, "healthcheck"},
                  {}, 30s);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(healthcheck({"--address=" + address, "--path=/healthz"}).exit_code, 0);
  EXPECT_EQ(healthcheck({"--address", address, "--path", "/nowhere"}).exit_code, 1);

  redis_.stop();
  EXPECT_TRUE(eventually_true([&] {
    r = healthcheck({"--address", address});
    return r.exit_code == 1;
  }));
  EXPECT_THAT(r.out, HasSubstr("\"redis\": \"unreachable\""));
  redis_.start();

  // A listener that accepts and never answers: exit 1 once the timeout passes.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string silent = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  const auto start = std::chrono::steady_clock::now();
  r = healthcheck({"--address", silent, "--timeout", "500ms"});
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_LT(took, 10s);
  ::close(fd);
  // Nothing listening now: refused, exit 1.
  EXPECT_EQ(healthcheck({"--address", silent}).exit_code, 1);
  EXPECT_EQ(healthcheck({"--frobnicate"}).exit_code, 2);
}

}  // namespace
}  // namespace tresse::test
