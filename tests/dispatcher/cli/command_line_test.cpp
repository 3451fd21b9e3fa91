#include "cli/command_line.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>
#include <vector>

#include "config/config.hpp"
#include "dispatcher/cli/run_cli.hpp"

namespace tresse::dispatcher::cli {
namespace {

using test::run_cli;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// What `run` got, through the real parser.
run_request parsed_run(std::vector<std::string> args) {
  run_request got;
  args.insert(args.begin(), "run");
  auto r = run_cli(args, [&got](const run_request& req) {
    got = req;
    return 0;
  });
  EXPECT_EQ(r.code, 0) << r.err;
  return got;
}

TEST(CommandLineTest, RunTakesConfigSetAndCheckInBothForms) {
  const auto a =
      parsed_run({"--config", "d.conf", "--set", "kafka.topic=t", "--set=log.level=debug"});
  EXPECT_EQ(a.config_file, "d.conf");
  EXPECT_THAT(a.overrides, ElementsAre("kafka.topic=t", "log.level=debug"));
  EXPECT_FALSE(a.check);
  const auto b = parsed_run({"--check", "--config=d.conf"});
  EXPECT_TRUE(b.check);
  EXPECT_EQ(b.config_file, "d.conf");
  EXPECT_EQ(parsed_run({"-c", "e.conf"}).config_file, "e.conf");
  // A value with '=' in it stays whole, after the first '='.
  EXPECT_THAT(parsed_run({"--set", "redis.url=redis://h:6379/0?x=1"}).overrides,
              ElementsAre("redis.url=redis://h:6379/0?x=1"));
  EXPECT_FALSE(parsed_run({}).config_file.has_value());
}

TEST(CommandLineTest, RunRefusesBadUsageWithExitTwoAndNeverEchoesASetValue) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"run", "--frobnicate"},
                                             {"run", "--set"},
                                             {"run", "--config"},
                                             {"run", "stray"},
                                             {"run", "--set", "kafka.topic=a", "kafka.group=b"}}) {
    auto r = run_cli(args);
    EXPECT_EQ(r.code, 2) << args.back();
    EXPECT_THAT(r.err, HasSubstr("tresse-dispatcher run: ")) << r.err;
  }
  auto r = run_cli({"run", "--set", "redis://:hunter2@h"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("expected key=value"));
  EXPECT_THAT(r.err, Not(HasSubstr("hunter2")));
}

TEST(CommandLineTest, RunHelpListsEveryConfigKeyAndExitsZero) {
  auto r = run_cli({"run", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("usage: tresse-dispatcher run [OPTIONS]"));
  for (const char* flag : {"--config", "--set", "--check", "--help", "--version"}) {
    EXPECT_THAT(r.out, HasSubstr(flag)) << flag;
  }
  for (const auto& key : config_keys()) EXPECT_THAT(r.out, HasSubstr(key)) << key;
}

TEST(CommandLineTest, HelpAndVersionWorkOnEveryLevel) {
  for (const std::vector<std::string>& cmd :
       std::vector<std::vector<std::string>>{{},
                                             {"run"},
                                             {"healthcheck"},
                                             {"dev-broker"},
                                             {"endpoints"},
                                             {"endpoints", "create"},
                                             {"endpoints", "health"},
                                             {"deliveries", "list"},
                                             {"keys", "revoke"}}) {
    auto help = cmd;
    help.push_back("--help");
    auto h = run_cli(help);
    EXPECT_EQ(h.code, 0) << testing::PrintToString(cmd) << h.err;
    EXPECT_THAT(h.out, HasSubstr("usage: tresse-dispatcher")) << testing::PrintToString(cmd);
    auto version = cmd;
    version.push_back("--version");
    auto v = run_cli(version);
    EXPECT_EQ(v.code, 0) << testing::PrintToString(cmd) << v.err;
    EXPECT_EQ(v.out, "tresse-dispatcher " TRESSE_VERSION "\n") << testing::PrintToString(cmd);
  }
}

TEST(CommandLineTest, DevBrokerHelpListsItsFlagsInsteadOfWantingAValue) {
  auto r = run_cli({"dev-broker", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("--bootstrap-file"));
  EXPECT_THAT(r.out, HasSubstr("--partitions"));
  EXPECT_THAT(r.out + r.err, Not(HasSubstr("needs a value")));
}

TEST(CommandLineTest, NamesAnUnknownOrMissingCommand) {
  auto unknown = run_cli({"frobnicate"});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("unknown command 'frobnicate'"));
  EXPECT_THAT(unknown.err, HasSubstr("endpoints"));  // the commands are listed
  auto none = run_cli({});
  EXPECT_EQ(none.code, 2);
  EXPECT_THAT(none.err, HasSubstr("usage: tresse-dispatcher"));
  auto no_action = run_cli({"endpoints"});
  EXPECT_EQ(no_action.code, 2);
  EXPECT_THAT(no_action.err, HasSubstr("rotate-secret"));
  auto bad_action = run_cli({"keys", "explode"});
  EXPECT_EQ(bad_action.code, 2);
  EXPECT_THAT(bad_action.err, HasSubstr("tresse-dispatcher keys: unknown command 'explode'"));
}

TEST(CommandLineTest, OpsFlagsTakeBothFormsAndTheEnvironment) {
  // An unreachable Redis: the parse got through to the action, which fails with exit 1.
  auto eq = run_cli({"deliveries", "list", "--endpoint=we_1", "--redis=redis://127.0.0.1:1/0"});
  EXPECT_EQ(eq.code, 1) << eq.err;
  EXPECT_THAT(eq.err, HasSubstr("unavailable"));
  ::setenv("TRESSE_REDIS_URL", "redis://127.0.0.1:1/0", 1);
  auto env = run_cli({"deliveries", "list", "--endpoint", "we_1"});
  ::unsetenv("TRESSE_REDIS_URL");
  EXPECT_EQ(env.code, 1) << env.err;
  // A malformed URL is bad usage, and its password is not repeated.
  auto bad = run_cli({"keys", "list", "--redis", "http://:hunter2@h"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--redis"));
  EXPECT_THAT(bad.err, Not(HasSubstr("hunter2")));
}

TEST(CommandLineTest, HealthcheckRefusesBadFlags) {
  EXPECT_EQ(run_cli({"healthcheck", "--path", "readyz"}).code, 2);
  EXPECT_EQ(run_cli({"healthcheck", "--timeout", "soon"}).code, 2);
  EXPECT_EQ(run_cli({"healthcheck", "--address", "nowhere"}).code, 2);
  // Nothing listens on port 1: not ready.
  EXPECT_EQ(run_cli({"healthcheck", "--address=127.0.0.1:1", "--timeout=500ms"}).code, 1);
}

}  // namespace
}  // namespace tresse::dispatcher::cli
