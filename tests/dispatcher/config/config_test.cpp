#include "config/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "api/keys.hpp"
#include "registry/secret_box.hpp"

namespace tresse::dispatcher {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// A config file in a fresh temp dir, removed at the end of the test.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tresse-config-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write_file(const std::string& text) {
    const auto path = (dir_ / "dispatcher.conf").string();
    std::ofstream(path) << text;
    return path;
  }

  // The config_error message of loading `sources`, or "" if it loaded.
  static std::string load_error(const config_sources& sources) {
    try {
      load_config(sources);
    } catch (const config_error& e) {
      return e.what();
    }
    return "";
  }

  static std::string set_error(const std::string& key, const std::string& value) {
    return load_error({.overrides = {key + "=" + value}});
  }

  std::filesystem::path dir_;
};

TEST_F(ConfigTest, DefaultsMatchDesign) {
  const config c = load_config({});
  EXPECT_EQ(c.kafka.brokers, "");  // required: see KafkaBrokersAreRequired
  EXPECT_EQ(c.kafka.topic, "tresse.events");
  EXPECT_EQ(c.kafka.group, "tresse-dispatcher");
  EXPECT_EQ(c.kafka.dead_letter_topic, "tresse.webhooks.dead");
  EXPECT_EQ(c.kafka.ops_topic, "tresse.webhooks.ops");
  EXPECT_EQ(c.kafka.max_event_bytes, 1048576u);
  EXPECT_EQ(c.kafka.max_pending, 10000u);
  EXPECT_EQ(c.kafka.embedded_bootstrap_file, "");
  EXPECT_TRUE(c.kafka.librdkafka.empty());
  EXPECT_EQ(c.redis.url, "redis://127.0.0.1:6379/0");
  EXPECT_EQ(c.admin.listen, (listen_address{"127.0.0.1", 9464}));
  EXPECT_FALSE(c.api.listen.has_value());
  EXPECT_EQ(c.api.rate_limit_per_minute, 600u);
  EXPECT_FALSE(c.delivery.allow_private_networks);
  EXPECT_TRUE(c.delivery.allow_list.empty());
  // DESIGN.md: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, each ±20 %; connect 5 s, attempt 15 s.
  EXPECT_THAT(c.delivery.retry_schedule, ElementsAre(5s, 5min, 30min, 2h, 5h, 10h, 10h));
  EXPECT_DOUBLE_EQ(c.delivery.retry_jitter, 0.2);
  EXPECT_EQ(c.delivery.timeout, 15s);
  EXPECT_EQ(c.delivery.connect_timeout, 5s);
  EXPECT_EQ(c.delivery.max_in_flight, 1000u);
  EXPECT_EQ(c.delivery.endpoint_concurrency, 10u);
  EXPECT_EQ(c.delivery.endpoint_queue_limit, 100u);
  EXPECT_EQ(c.delivery.endpoint_queue_timeout, 5s);
  EXPECT_EQ(c.delivery.breaker_failures, 10u);
  EXPECT_EQ(c.delivery.breaker_window, 1min);
  EXPECT_EQ(c.delivery.breaker_cool_down, 30s);
  EXPECT_EQ(c.delivery.breaker_max_cool_down, 10min);
  EXPECT_DOUBLE_EQ(c.delivery.throttle_min_rate, 1);
  EXPECT_DOUBLE_EQ(c.delivery.throttle_decrease, 0.5);
  EXPECT_DOUBLE_EQ(c.delivery.throttle_increase, 5);
  EXPECT_EQ(c.delivery.auto_disable_after, 5 * 24h);
  EXPECT_EQ(c.delivery.warn_after_dead_letters, 5u);
  EXPECT_EQ(c.delivery.max_response_body, 4096u);
  EXPECT_EQ(c.delivery.ca_file, "");
  EXPECT_EQ(c.delivery.retry_lease, 60s);
  EXPECT_EQ(c.delivery.drain_timeout, 10s);
  EXPECT_EQ(c.registry.refresh_interval, 500ms);
  EXPECT_EQ(c.registry.full_refresh_interval, 60s);
  EXPECT_EQ(c.registry.encryption_key, "");
  EXPECT_EQ(c.log.level, tresse::log::level::info);
}

TEST_F(ConfigTest, PrecedenceIsFileThenEnvironmentThenSet) {
  const auto path = write_file(
      "kafka.topic = from-file\n"
      "kafka.group = from-file\n"
      "redis.url = redis://file:1/0\n");
  const config c = load_config(
      {.file = path,
       .environment = {{"TRESSE_KAFKA_GROUP", "from-env"}, {"TRESSE_REDIS_URL", "redis://env:2/0"}},
       .overrides = {"redis.url=redis://set:3/0"}});
  EXPECT_EQ(c.kafka.topic, "from-file");
  EXPECT_EQ(c.kafka.group, "from-env");
  EXPECT_EQ(c.redis.url, "redis://set:3/0");
}

TEST_F(ConfigTest, ReadsCommentsQuotesAndLists) {
  const auto path = write_file(
      "# the dispatcher\n"
      "\n"
      "  kafka.brokers = \"b1:9092,b2:9092\"   # quoted, comment after\n"
      "kafka.topic='a # not a comment'\n"
      "kafka.group = grp#1 # comment\n"
      "delivery.retry_schedule = 1s, 500ms,2m\n"
      "delivery.allow_list = 10.1.2.3/8, 192.168.0.1, fd00::1/8\n"
      "delivery.ca_file = \"\"\n");
  const config c = load_config({.file = path});
  EXPECT_EQ(c.kafka.brokers, "b1:9092,b2:9092");
  EXPECT_EQ(c.kafka.topic, "a # not a comment");
  EXPECT_EQ(c.kafka.group, "grp#1");
  EXPECT_THAT(c.delivery.retry_schedule, ElementsAre(1s, 500ms, 2min));
  EXPECT_THAT(c.delivery.allow_list, ElementsAre("10.0.0.0/8", "192.168.0.1/32", "fd00::/8"));
  EXPECT_EQ(c.delivery.ca_file, "");
}

TEST_F(ConfigTest, ParsesEveryDurationUnit) {
  config c;
  const std::pair<const char*, std::chrono::milliseconds> cases[] = {
      {"250ms", 250ms}, {"7s", 7s}, {"3m", 3min}, {"2h", 2h}, {"1d", 24h}};
  for (const auto& [text, want] : cases) {
    set_value(c, "delivery.timeout", text);
    EXPECT_EQ(c.delivery.timeout, want) << text;
  }
}

TEST_F(ConfigTest, SetsTheRegistrysFullRefresh) {
  config c;
  set_value(c, "registry.full_refresh_interval", "5s");
  EXPECT_EQ(c.registry.full_refresh_interval, 5s);
  EXPECT_THAT(set_error("registry.full_refresh_interval", "0s"),
              HasSubstr("registry.full_refresh_interval"));
}

TEST_F(ConfigTest, RejectsUnknownKeyNamingIt) {
  EXPECT_THAT(load_error({.overrides = {"delivery.timeuot=5s"}}), HasSubstr("delivery.timeuot"));
  EXPECT_THAT(load_error({.file = write_file("kafka.topic = t\nkafka.brokerz = x\n")}),
              AllOf(HasSubstr("kafka.brokerz"), HasSubstr(":2:")));
}

TEST_F(ConfigTest, RejectsBadDurationNamingKey) {
  for (const char* bad : {"5", "5x", "s", "-5s", "1.5s", "", "0s"}) {
    EXPECT_THAT(set_error("delivery.timeout", bad), HasSubstr("delivery.timeout")) << bad;
  }
  EXPECT_THAT(set_error("delivery.retry_schedule", "5s,,5m"), HasSubstr("delivery.retry_schedule"));
  EXPECT_THAT(set_error("delivery.retry_schedule", "5s,soon"),
              HasSubstr("delivery.retry_schedule"));
  EXPECT_THAT(set_error("delivery.retry_schedule", ""), HasSubstr("delivery.retry_schedule"));
}

TEST_F(ConfigTest, RejectsBadNumberNamingKey) {
  for (const char* bad : {"", "ten", "-1", "1e3", "12abc", "0", "99999999999999999999999"}) {
    EXPECT_THAT(set_error("delivery.max_in_flight", bad), HasSubstr("delivery.max_in_flight"))
        << bad;
  }
  EXPECT_THAT(set_error("api.rate_limit_per_minute", "4294967296"),
              HasSubstr("api.rate_limit_per_minute"));
  EXPECT_THAT(set_error("delivery.retry_jitter", "1.5"), HasSubstr("delivery.retry_jitter"));
  EXPECT_THAT(set_error("delivery.retry_jitter", "abc"), HasSubstr("delivery.retry_jitter"));
}

TEST_F(ConfigTest, RetryShardsAreOneTo1024) {
  EXPECT_EQ(load_config({}).retry.shards, 16u);
  EXPECT_EQ(load_config({.overrides = {"retry.shards=1"}}).retry.shards, 1u);
  EXPECT_EQ(load_config({.overrides = {"retry.shards=1024"}}).retry.shards, 1024u);
  for (const char* bad : {"0", "1025", "-1", "x", ""}) {
    EXPECT_THAT(set_error("retry.shards", bad), HasSubstr("retry.shards")) << bad;
  }
}

TEST_F(ConfigTest, ParsesEndpointIsolationKeys) {
  const config c = load_config({.overrides = {"delivery.endpoint_queue_limit=0",
                                              "delivery.endpoint_queue_timeout=250ms"}});
  EXPECT_EQ(c.delivery.endpoint_queue_limit, 0u);  // 0: never queue, defer at once
  EXPECT_EQ(c.delivery.endpoint_queue_timeout, 250ms);
  EXPECT_THAT(set_error("delivery.endpoint_queue_limit", "-1"),
              HasSubstr("delivery.endpoint_queue_limit"));
  EXPECT_THAT(set_error("delivery.endpoint_queue_timeout", "5"),
              HasSubstr("delivery.endpoint_queue_timeout"));
}

TEST_F(ConfigTest, ParsesThrottleKeys) {
  const config c = load_config({.overrides = {"delivery.throttle_min_rate=0.5",
                                              "delivery.throttle_decrease=0.25",
                                              "delivery.throttle_increase=40"}});
  EXPECT_DOUBLE_EQ(c.delivery.throttle_min_rate, 0.5);
  EXPECT_DOUBLE_EQ(c.delivery.throttle_decrease, 0.25);
  EXPECT_DOUBLE_EQ(c.delivery.throttle_increase, 40);
  for (const char* bad : {"0", "1", "-0.5", "x"}) {
    EXPECT_THAT(set_error("delivery.throttle_decrease", bad),
                HasSubstr("delivery.throttle_decrease"))
        << bad;
  }
  EXPECT_THAT(set_error("delivery.throttle_min_rate", "0"),
              HasSubstr("delivery.throttle_min_rate"));
}

TEST_F(ConfigTest, ParsesAutoDisableKeys) {
  const config c = load_config(
      {.overrides = {"delivery.auto_disable_after=0s", "delivery.warn_after_dead_letters=0"}});
  EXPECT_EQ(c.delivery.auto_disable_after, 0s);  // never
  EXPECT_EQ(c.delivery.warn_after_dead_letters, 0u);
  EXPECT_THAT(set_error("delivery.auto_disable_after", "5"),
              HasSubstr("delivery.auto_disable_after"));
}

TEST_F(ConfigTest, ParsesBreakerKeys) {
  const config c = load_config(
      {.overrides = {"delivery.breaker_failures=0", "delivery.breaker_window=10s",
                     "delivery.breaker_cool_down=2s", "delivery.breaker_max_cool_down=1h"}});
  EXPECT_EQ(c.delivery.breaker_failures, 0u);  // 0: the breaker is off
  EXPECT_EQ(c.delivery.breaker_window, 10s);
  EXPECT_EQ(c.delivery.breaker_cool_down, 2s);
  EXPECT_EQ(c.delivery.breaker_max_cool_down, 1h);
  EXPECT_THAT(set_error("delivery.breaker_cool_down", "0s"),
              HasSubstr("delivery.breaker_cool_down"));
  EXPECT_THAT(set_error("delivery.breaker_failures", "many"),
              HasSubstr("delivery.breaker_failures"));
}

TEST_F(ConfigTest, RejectsBadBoolNamingKey) {
  EXPECT_THAT(set_error("delivery.allow_private_networks", "maybe"),
              HasSubstr("delivery.allow_private_networks"));
  config c;
  set_value(c, "delivery.allow_private_networks", "yes");
  EXPECT_TRUE(c.delivery.allow_private_networks);
  set_value(c, "delivery.allow_private_networks", "false");
  EXPECT_FALSE(c.delivery.allow_private_networks);
}

TEST_F(ConfigTest, RejectsOtherBadValuesNamingKey) {
  EXPECT_THAT(set_error("delivery.allow_list", "10.0.0.0/33"), HasSubstr("delivery.allow_list"));
  EXPECT_THAT(set_error("delivery.allow_list", "example.com"), HasSubstr("delivery.allow_list"));
  EXPECT_THAT(set_error("admin.listen", "9464"), HasSubstr("admin.listen"));
  EXPECT_THAT(set_error("api.listen", "127.0.0.1:70000"), HasSubstr("api.listen"));
  EXPECT_THAT(set_error("redis.url", "http://x"), HasSubstr("redis.url"));
  // Only what the Redis clients can use: no unix sockets, a valid port and database.
  EXPECT_THAT(set_error("redis.url", "unix:///run/redis.sock"), HasSubstr("redis://"));
  EXPECT_THAT(set_error("redis.url", "redis://host:99999/0"), HasSubstr("port"));
  EXPECT_THAT(set_error("redis.url", "redis://host:6379/x"), HasSubstr("database"));
  EXPECT_THAT(set_error("log.level", "loud"), HasSubstr("log.level"));
  EXPECT_THAT(set_error("kafka.topic", ""), HasSubstr("kafka.topic"));
}

TEST_F(ConfigTest, ParsesConsoleFrameAncestors) {
  EXPECT_EQ(config{}.api.console_frame_ancestors, "'none'");
  config c;
  set_value(c, "api.console_frame_ancestors", "'self' https://dash.example.com");
  EXPECT_EQ(c.api.console_frame_ancestors, "'self' https://dash.example.com");
  // Nothing that would end the CSP directive and start another.
  EXPECT_THAT(set_error("api.console_frame_ancestors", "https://a.com; script-src *"),
              HasSubstr("api.console_frame_ancestors"));
  EXPECT_THAT(set_error("api.console_frame_ancestors", ""), HasSubstr("api.console_frame_ancestors"));
}

TEST_F(ConfigTest, KeepsOnlyTheOperatorTokensDigest) {
  EXPECT_EQ(config{}.api.operator_token_sha256, "");  // off by default
  const std::string token = "op_0123456789abcdefghijklmnopqrstuv";
  config c;
  set_value(c, "api.operator_token", token);
  EXPECT_EQ(c.api.operator_token_sha256, api::key_hash(token));
  config hashed;
  set_value(hashed, "api.operator_token", "sha256:" + api::key_hash(token));
  EXPECT_EQ(hashed.api.operator_token_sha256, api::key_hash(token));
  // Too short, spaces, a bad digest: refused, and the value is never echoed.
  for (const std::string bad : {"short", "op_0123456789 abcdefghijklmnopqrstuv", "sha256:abc"}) {
    const auto e = set_error("api.operator_token", bad);
    EXPECT_THAT(e, HasSubstr("api.operator_token"));
    EXPECT_THAT(e, Not(HasSubstr(bad)));
  }
}

TEST_F(ConfigTest, EnvironmentErrorNamesVariable) {
  EXPECT_THAT(load_error({.environment = {{"TRESSE_DELIVERY_TIMEOUT", "soon"}}}),
              AllOf(HasSubstr("TRESSE_DELIVERY_TIMEOUT"), HasSubstr("delivery.timeout")));
}

TEST_F(ConfigTest, IgnoresUnrelatedEnvironment) {
  const config c = load_config({.environment = {{"TRESSE_FUZZ_SECONDS", "0"}, {"PATH", "/bin"}}});
  EXPECT_EQ(c.kafka.topic, "tresse.events");
}

TEST_F(ConfigTest, PassesLibrdkafkaPropertiesThrough) {
  const auto path = write_file("kafka.librdkafka.security.protocol = SASL_SSL\n");
  const config c = load_config({.file = path,
                                .environment = {{"TRESSE_KAFKA_LIBRDKAFKA_SASL_USERNAME", "svc"}},
                                .overrides = {"kafka.librdkafka.socket.timeout.ms=1000"}});
  EXPECT_EQ(c.kafka.librdkafka,
            (std::map<std::string, std::string>{{"security.protocol", "SASL_SSL"},
                                                {"sasl.username", "svc"},
                                                {"socket.timeout.ms", "1000"}}));
  EXPECT_THAT(set_error("kafka.librdkafka.", "x"), HasSubstr("kafka.librdkafka."));
}

TEST_F(ConfigTest, ParsesListenAddresses) {
  EXPECT_EQ(parse_listen_address("0.0.0.0:0"), (listen_address{"0.0.0.0", 0}));
  EXPECT_EQ(parse_listen_address("[::1]:8080"), (listen_address{"::1", 8080}));
  EXPECT_EQ(parse_listen_address("localhost:65535"), (listen_address{"localhost", 65535}));
  EXPECT_EQ(to_string(listen_address{"::1", 80}), "[::1]:80");
  for (const char* bad : {"", ":80", "host", "host:", "::1:80", "h:-1", "[::1]80"}) {
    EXPECT_THROW(parse_listen_address(bad), config_error) << bad;
  }
  config c;
  set_value(c, "api.listen", "127.0.0.1:0");
  EXPECT_EQ(c.api.listen, (listen_address{"127.0.0.1", 0}));
  set_value(c, "api.listen", "");
  EXPECT_FALSE(c.api.listen.has_value());
}

TEST_F(ConfigTest, DecodesEncryptionKeyWithoutEchoingIt) {
  config c;
  const std::string key_b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";  // bytes 0..31
  set_value(c, "registry.encryption_key", key_b64);
  ASSERT_EQ(c.registry.encryption_key.size(), 32u);
  EXPECT_EQ(static_cast<unsigned char>(c.registry.encryption_key[31]), 31);
  const std::string short_key = "c2VjcmV0LXZhbHVlLXRoYXQtaXMtdG9vLXNob3J0";
  const auto error = set_error("registry.encryption_key", short_key);
  EXPECT_THAT(error, HasSubstr("registry.encryption_key"));
  EXPECT_THAT(error, Not(HasSubstr(short_key)));
}

// The daemon and the ops commands share one key parser: hex and base64 of the same bytes both
// work in each, and give the same key.
TEST_F(ConfigTest, EncryptionKeyTakesHexOrBase64LikeTheOpsCommands) {
  std::string hex;
  for (int i = 0; i < 32; ++i)
    hex += (i < 16 ? "0" : "1") + std::string(1, "0123456789abcdef"[i % 16]);
  const std::string b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";  // bytes 0..31 too
  config from_hex, from_b64;
  set_value(from_hex, "registry.encryption_key", hex);
  set_value(from_b64, "registry.encryption_key", b64);
  ASSERT_EQ(from_hex.registry.encryption_key.size(), 32u);
  EXPECT_EQ(from_hex.registry.encryption_key, from_b64.registry.encryption_key);
  // What the daemon seals with its key, the ops commands open with the key's text, either form.
  auto daemon = registry::secret_box::from_bytes(from_hex.registry.encryption_key);
  ASSERT_TRUE(daemon.has_value());
  auto sealed = daemon->seal("whsec_x", "we_1");
  ASSERT_TRUE(sealed.has_value());
  for (const auto& text : {hex, b64}) {
    auto cli = registry::secret_box::from_text(text);
    ASSERT_TRUE(cli.has_value());
    EXPECT_EQ(cli->open(*sealed, "we_1").value_or(""), "whsec_x");
  }
  const std::string bad_hex = std::string(63, 'a') + "g";
  const auto error = set_error("registry.encryption_key", bad_hex);
  EXPECT_THAT(error, HasSubstr("64 hex digits or base64"));
  EXPECT_THAT(error, Not(HasSubstr(bad_hex)));
}

// redis.url may hold a password: a bad one is refused without echoing it, and help masks it.
TEST_F(ConfigTest, NeverEchoesTheRedisUrl) {
  for (const char* url : {"redis://:hunter2@host:99999", "redis://app:hunter2@host/x",
                          "http://:hunter2@host", "redis://:hunter2%zz@host"}) {
    const auto error = set_error("redis.url", url);
    EXPECT_THAT(error, HasSubstr("redis.url")) << url;
    EXPECT_THAT(error, Not(HasSubstr("hunter2"))) << error;
  }
  const auto env_error =
      load_error({.environment = {{"TRESSE_REDIS_URL", "redis://:hunter2@h:0"}}});
  EXPECT_THAT(env_error, HasSubstr("TRESSE_REDIS_URL"));
  EXPECT_THAT(env_error, Not(HasSubstr("hunter2")));
  config c;
  set_value(c, "redis.url", "redis://app:hunter2@[::1]:6380/2");
  EXPECT_EQ(c.redis.url, "redis://app:hunter2@[::1]:6380/2");
}

// delivery.proxy may hold a password too; it is parsed by the delivery client's own parser.
TEST_F(ConfigTest, ParsesTheEgressProxyWithoutEchoingItsCredentials) {
  const config defaults = load_config({});
  EXPECT_EQ(defaults.delivery.proxy, "");
  EXPECT_TRUE(defaults.delivery.no_proxy.empty());
  EXPECT_FALSE(defaults.delivery.proxy_resolves);

  const config c = load_config({.overrides = {"delivery.proxy=http://ops:hunter2@proxy.internal:3128",
                                              "delivery.no_proxy=internal.example, 10.0.0.0/8",
                                              "delivery.proxy_resolves=true"}});
  EXPECT_EQ(c.delivery.proxy, "http://ops:hunter2@proxy.internal:3128");
  EXPECT_THAT(c.delivery.no_proxy, ElementsAre("internal.example", "10.0.0.0/8"));
  EXPECT_TRUE(c.delivery.proxy_resolves);

  for (const char* bad : {"https://ops:hunter2@proxy:3128", "http://ops:hunter2@proxy",
                          "http://ops:hunter2@proxy:3128/path"}) {
    const auto error = set_error("delivery.proxy", bad);
    EXPECT_THAT(error, HasSubstr("delivery.proxy")) << bad;
    EXPECT_THAT(error, Not(HasSubstr("hunter2"))) << error;
  }
  EXPECT_THAT(set_error("delivery.no_proxy", "10.0.0.0/33"), HasSubstr("delivery.no_proxy"));
  EXPECT_THAT(set_error("delivery.no_proxy", "bad host"), HasSubstr("a host suffix or a CIDR"));
  EXPECT_THAT(set_error("delivery.proxy_resolves", "maybe"), HasSubstr("delivery.proxy_resolves"));
}

TEST_F(ConfigTest, KafkaBrokersAreRequired) {
  const auto problems = validate(load_config({}));
  ASSERT_EQ(problems.size(), 1u);
  // Says how to set it, in each source, and what `embedded` is.
  EXPECT_THAT(problems[0], HasSubstr("kafka.brokers is not set"));
  EXPECT_THAT(problems[0], HasSubstr("TRESSE_KAFKA_BROKERS"));
  EXPECT_THAT(problems[0], HasSubstr("--set kafka.brokers="));
  EXPECT_THAT(problems[0], HasSubstr("not for production"));
  EXPECT_TRUE(validate(load_config({.overrides = {"kafka.brokers=kafka:9092"}})).empty());
  EXPECT_TRUE(validate(load_config({.overrides = {"kafka.brokers=embedded"}})).empty());
}

TEST_F(ConfigTest, NamesUnknownTresseVariablesAndTheNearestKey) {
  const auto unknown = unknown_environment({{"TRESSE_DELIVERY_TIMEOUTT", "5s"},
                                            {"TRESSE_KAFKA_BROKERS", "k:9092"},
                                            {"TRESSE_KAFKA_LIBRDKAFKA_SASL_USERNAME", "u"},
                                            {"TRESSE_REDIS_URI", "redis://:pw@h"},
                                            {"TRESSEX", "1"},
                                            {"PATH", "/bin"}});
  ASSERT_EQ(unknown.size(), 2u);
  EXPECT_EQ(unknown[0].name, "TRESSE_DELIVERY_TIMEOUTT");
  EXPECT_EQ(unknown[0].nearest_variable, "TRESSE_DELIVERY_TIMEOUT");
  EXPECT_EQ(unknown[0].nearest_key, "delivery.timeout");
  EXPECT_EQ(unknown[1].name, "TRESSE_REDIS_URI");
  EXPECT_EQ(unknown[1].nearest_key, "redis.url");
  // Unknown variables do not stop the load: the warning is the caller's to log.
  EXPECT_EQ(load_config({.environment = {{"TRESSE_DELIVERY_TIMEOUTT", "5s"}}}).delivery.timeout,
            15s);
}

TEST_F(ConfigTest, ReportsUnreadableFileAndMalformedLine) {
  EXPECT_THAT(load_error({.file = (dir_ / "missing.conf").string()}), HasSubstr("missing.conf"));
  EXPECT_THAT(load_error({.file = write_file("kafka.topic\n")}), HasSubstr("key = value"));
  EXPECT_THAT(load_error({.file = write_file("kafka.topic = \"open\n")}),
              AllOf(HasSubstr("kafka.topic"), HasSubstr("quote")));
}

TEST_F(ConfigTest, HelpListsEveryKeyWithDefault) {
  const auto help = help_text();
  const auto keys = config_keys();
  ASSERT_GE(keys.size(), 27u);
  for (const auto& k : keys) EXPECT_THAT(help, HasSubstr(k)) << k;
  EXPECT_THAT(help, HasSubstr("5s,5m,30m,2h,5h,10h,10h"));
  EXPECT_THAT(help, HasSubstr("500ms"));
  EXPECT_THAT(help, HasSubstr("127.0.0.1:9464"));
  EXPECT_THAT(help, HasSubstr("TRESSE_KAFKA_BROKERS"));
}

TEST_F(ConfigTest, HelpDefaultsParseBackToTheDefaults) {
  // Help and parser share one key list: every default as shown in the help table, set back
  // through the parser, gives the default config again.
  std::istringstream help(help_text());
  std::map<std::string, std::string> shown;
  for (std::string line; std::getline(help, line);) {
    std::istringstream row(line);
    std::string key, value;
    if (row >> key >> value) shown[key] = value == "\"\"" ? "" : value;
  }
  config c;
  c.delivery.retry_schedule = {1s};
  c.delivery.timeout = 1s;
  c.admin.listen = {"0.0.0.0", 1};
  for (const auto& k : config_keys()) {
    if (k.find('<') != std::string::npos) continue;
    ASSERT_TRUE(shown.contains(k)) << k;
    EXPECT_NO_THROW(set_value(c, k, shown[k])) << k;
  }
  EXPECT_EQ(c.delivery.retry_schedule, config{}.delivery.retry_schedule);
  EXPECT_EQ(c.delivery.timeout, config{}.delivery.timeout);
  EXPECT_EQ(c.admin.listen, config{}.admin.listen);
}

}  // namespace
}  // namespace tresse::dispatcher
