#include "redis/client.hpp"
#include "redis/request.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/redis_server.hpp"

namespace tresse::dispatcher::redis {
namespace {

using namespace std::chrono_literals;

options options_for(const test::redis_server& server) {
  auto o = parse_url(server.url());
  EXPECT_TRUE(o.has_value());
  return *o;
}

TEST(RedisClientTest, ParsesUrlWithPasswordPortAndDb) {
  auto o = parse_url("redis://:s3cret@redis.internal:6390/4");
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->host, "redis.internal");
  EXPECT_EQ(o->port, 6390);
  EXPECT_EQ(o->password, "s3cret");
  EXPECT_EQ(o->db, 4);

  auto plain = parse_url("redis://localhost");
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->host, "localhost");
  EXPECT_EQ(plain->port, 6379);
  EXPECT_EQ(plain->db, 0);
  EXPECT_TRUE(plain->password.empty());
}

TEST(RedisClientTest, ParsesAclUserIpv6AndPercentEncoding) {
  auto acl = parse_url("redis://tresse:s3cret@redis.internal:6390/2");
  ASSERT_TRUE(acl.has_value());
  EXPECT_EQ(acl->user, "tresse");
  EXPECT_EQ(acl->password, "s3cret");
  EXPECT_EQ(acl->host, "redis.internal");
  EXPECT_EQ(auth_argv(*acl), (std::vector<std::string_view>{"AUTH", "tresse", "s3cret"}));

  auto password_only = parse_url("redis://:pw@h");
  ASSERT_TRUE(password_only.has_value());
  EXPECT_TRUE(password_only->user.empty());
  EXPECT_EQ(auth_argv(*password_only), (std::vector<std::string_view>{"AUTH", "pw"}));
  EXPECT_TRUE(auth_argv(*parse_url("redis://h")).empty());

  auto v6 = parse_url("redis://[::1]/0");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 6379);
  auto v6_port = parse_url("redis://:pw@[2001:db8::7]:6400/5");
  ASSERT_TRUE(v6_port.has_value());
  EXPECT_EQ(v6_port->host, "2001:db8::7");
  EXPECT_EQ(v6_port->port, 6400);
  EXPECT_EQ(v6_port->db, 5);

  // Reserved characters in the password arrive percent-encoded.
  auto encoded = parse_url("redis://us%65r:p%40ss%3Aw%2Frd%25@127.0.0.1:7000/1");
  ASSERT_TRUE(encoded.has_value());
  EXPECT_EQ(encoded->user, "user");
  EXPECT_EQ(encoded->password, "p@ss:w/rd%");
  EXPECT_EQ(encoded->port, 7000);
  EXPECT_EQ(encoded->db, 1);
}

TEST(RedisClientTest, UrlErrorsNeverEchoTheUrl) {
  for (const char* url : {"redis://:hunter2-secret@host:99999", "redis://u:hunter2-secret%zz@host",
                          "redis://:hunter2-secret@[::1", "redis://:hunter2-secret@::1:6379",
                          "redis://:hunter2-secret@host/x", "rediss://:hunter2-secret@host",
                          "redis://:hunter2-secret@[::1]x"}) {
    auto o = parse_url(url);
    ASSERT_FALSE(o.has_value()) << url;
    EXPECT_EQ(o.error().message.find("hunter2"), std::string::npos) << o.error().message;
    EXPECT_TRUE(o.error().message.starts_with("redis url: ")) << o.error().message;
  }
}

TEST(RedisClientTest, RejectsBadUrls) {
  for (const char* url : {"http://localhost:6379", "redis://", "redis://host:0",
                          "redis://host:99999", "redis://host:12ab", "redis://host:6379/x"}) {
    auto o = parse_url(url);
    ASSERT_FALSE(o.has_value()) << url;
    EXPECT_EQ(o.error().kind, error_kind::permanent) << url;
  }
}

TEST(RedisClientTest, CommandsAreBinarySafe) {
  test::redis_server server;
  client redis(options_for(server));
  const std::string value("a\0b\r\nc\xff", 7);
  const std::string key("k\0\n", 3);
  ASSERT_TRUE(redis.command({"SET", key, value}).has_value());
  auto got = redis.command({"GET", key});
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->type, reply::kind::string);
  EXPECT_EQ(got->str, value);
  auto missing = redis.command({"GET", "absent"});
  ASSERT_TRUE(missing.has_value());
  EXPECT_TRUE(missing->is_nil());
}

TEST(RedisClientTest, ErrorReplyIsPermanentError) {
  test::redis_server server;
  client redis(options_for(server));
  ASSERT_TRUE(redis.command({"SET", "s", "x"}).has_value());
  auto r = redis.command({"LPUSH", "s", "y"});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, error_kind::permanent);
  EXPECT_NE(r.error().message.find("WRONGTYPE"), std::string::npos);
  // The connection is still usable after an error reply.
  EXPECT_TRUE(redis.ping().has_value());
}

// A full Redis (maxmemory reached, noeviction) is a condition that passes: transient.
TEST(RedisClientTest, AFullRedisIsATransientError) {
  test::redis_server server;
  client redis(options_for(server));
  ASSERT_TRUE(redis.command({"CONFIG", "SET", "maxmemory", "1"}).has_value());
  auto r = redis.command({"SET", "k", "v"});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("OOM"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().kind, error_kind::transient);
  ASSERT_TRUE(redis.command({"CONFIG", "SET", "maxmemory", "0"}).has_value());
  EXPECT_TRUE(redis.command({"SET", "k", "v"}).has_value());
}

TEST(RedisClientTest, PipelineReturnsOneReplyPerCommandInOrder) {
  test::redis_server server;
  client redis(options_for(server));
  auto r = redis.pipeline({{"SET", "a", "1"}, {"INCR", "a"}, {"LPUSH", "a", "x"}, {"GET", "a"}});
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0].str, "OK");
  EXPECT_EQ((*r)[1].integer, 2);
  EXPECT_EQ((*r)[2].type, reply::kind::error);  // stays in place, not a failure of the batch
  EXPECT_EQ((*r)[3].str, "2");
}

TEST(RedisClientTest, EvalLoadsScriptAfterNoScript) {
  test::redis_server server;
  client redis(options_for(server));
  script add("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  auto first = redis.eval(add, {"n"}, {"5"});
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(first->integer, 5);
  ASSERT_TRUE(redis.command({"SCRIPT", "FLUSH"}).has_value());
  auto second = redis.eval(add, {"n"}, {"2"});
  ASSERT_TRUE(second.has_value()) << second.error().message;
  EXPECT_EQ(second->integer, 7);
  auto loaded = redis.command({"SCRIPT", "EXISTS", add.sha1()});
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->elements.at(0).integer, 1);
}

TEST(RedisClientTest, StatusOfAPipelineIsItsConnectionsFailureOrItsFirstErrorReply) {
  EXPECT_TRUE(status_of(replies(std::vector<reply>{})).has_value());
  const replies failed = std::unexpected(error{error_kind::transient, "connection refused"});
  ASSERT_FALSE(status_of(failed).has_value());
  EXPECT_EQ(status_of(failed).error().message, "connection refused");
  reply ok;
  ok.type = reply::kind::status;
  ok.str = "OK";
  reply oom;
  oom.type = reply::kind::error;
  oom.str = "OOM command not allowed when used memory > 'maxmemory'.";
  reply wrong = oom;
  wrong.str = "WRONGTYPE Operation against a key holding the wrong kind of value";
  EXPECT_TRUE(status_of(replies(std::vector<reply>{ok, ok})).has_value());
  const auto st = status_of(replies(std::vector<reply>{ok, oom, wrong}));
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().message, error_of(oom).message);  // the first, as first_error
}

TEST(RedisClientTest, ScriptCallArgvBySha1ThenBySource) {
  const script s("return 1");
  const std::vector<std::string> keys{"k1", "k2"};
  const std::vector<std::string_view> args{"a"};
  std::string key_count;
  const auto by_sha = s.call_argv(false, key_count, keys, args);
  const std::vector<std::string_view> want_sha{"EVALSHA", s.sha1(), "2", "k1", "k2", "a"};
  EXPECT_EQ(by_sha, want_sha);
  const auto by_source = s.call_argv(true, key_count, keys, args);
  const std::vector<std::string_view> want_source{"EVAL", "return 1", "2", "k1", "k2", "a"};
  EXPECT_EQ(by_source, want_source);
  EXPECT_TRUE(script::missing("NOSCRIPT No matching script. Please use EVAL."));
  EXPECT_TRUE(script::missing("redis: NOSCRIPT No matching script"));  // as error messages say it
  EXPECT_FALSE(script::missing("ERR wrong number of arguments"));
}

TEST(RedisClientTest, ScriptErrorIsPermanent) {
  test::redis_server server;
  client redis(options_for(server));
  script bad("return redis.call('NOSUCHCOMMAND')");
  auto r = redis.eval(bad, {}, {});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, error_kind::permanent);
}

TEST(RedisClientTest, ReconnectsAfterRedisRestart) {
  test::redis_server server;
  client redis(options_for(server));
  ASSERT_TRUE(redis.command({"SET", "k", "v"}).has_value());

  server.stop();
  auto down = redis.command({"GET", "k"});
  ASSERT_FALSE(down.has_value());
  EXPECT_EQ(down.error().kind, error_kind::transient);
  auto still_down = redis.ping();
  ASSERT_FALSE(still_down.has_value());
  EXPECT_EQ(still_down.error().kind, error_kind::transient);

  server.start();
  auto back = redis.command({"SET", "k", "again"});
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(redis.command({"GET", "k"})->str, "again");
}

TEST(RedisClientTest, UnreachableRedisIsTransient) {
  test::redis_server server;
  auto opts = options_for(server);
  server.stop();
  opts.connect_timeout = 500ms;
  client redis(opts);
  auto r = redis.command({"PING"});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, error_kind::transient);
}

TEST(RedisClientTest, AuthenticatesAndSelectsDatabase) {
  test::redis_server server({.extra = {"--requirepass", "pw"}});
  auto opts = parse_url("redis://:pw@127.0.0.1:" + std::to_string(server.port()) + "/3");
  ASSERT_TRUE(opts.has_value());
  client redis(*opts);
  ASSERT_TRUE(redis.command({"SET", "in3", "yes"}).has_value());
  // The key went to db 3, not db 0.
  auto db0 = parse_url("redis://:pw@127.0.0.1:" + std::to_string(server.port()) + "/0");
  client other(*db0);
  EXPECT_TRUE(other.command({"GET", "in3"})->is_nil());

  auto wrong = parse_url("redis://:nope@127.0.0.1:" + std::to_string(server.port()));
  client denied(*wrong);
  auto r = denied.command({"PING"});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, error_kind::fatal);
}

// An ACL user (AUTH user password), over IPv6, with a password that needs percent-encoding.
TEST(RedisClientTest, AuthenticatesAsAclUserOverIpv6) {
  test::redis_server server(
      {.extra = {"--bind", "127.0.0.1", "::1", "--user", "tresse", "on", ">p@ss:w/rd", "~*", "&*",
                 "+@all", "--user", "default", "off"}});
  const std::string port = std::to_string(server.port());
  auto opts = parse_url("redis://tresse:p%40ss%3Aw%2Frd@[::1]:" + port + "/0");
  ASSERT_TRUE(opts.has_value());
  client redis(*opts);
  ASSERT_TRUE(redis.command({"SET", "acl", "yes"}).has_value());
  auto who = redis.command({"ACL", "WHOAMI"});
  ASSERT_TRUE(who.has_value());
  EXPECT_EQ(who->str, "tresse");

  // Without the user name, AUTH pw goes to the (disabled) default user and is refused.
  auto no_user = parse_url("redis://:p%40ss%3Aw%2Frd@[::1]:" + port + "/0");
  client denied(*no_user);
  auto r = denied.command({"PING"});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, error_kind::fatal);
  EXPECT_EQ(r.error().message.find("p@ss"), std::string::npos);
}

TEST(RedisClientTest, PoolServesManyThreads) {
  test::redis_server server;
  auto opts = options_for(server);
  opts.pool_size = 3;
  client redis(opts);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        if (!redis.command({"INCR", "counter"})) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(redis.command({"GET", "counter"})->str, "800");
}

}  // namespace
}  // namespace tresse::dispatcher::redis
