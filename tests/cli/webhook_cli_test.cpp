// tresse-webhook itself: command dispatch, help and version.
#include "cli/webhook_cli.hpp"

#include <gtest/gtest.h>

#include <string>

namespace tresse::test {
namespace {

TEST(WebhookCliTest, NoCommandPrintsUsageAndExitsTwo) {
  auto r = webhook_cli({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("usage: tresse-webhook"), std::string::npos) << r.err;
}

TEST(WebhookCliTest, UnknownCommandExitsTwo) {
  auto r = webhook_cli({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown command 'frobnicate'"), std::string::npos) << r.err;
}

TEST(WebhookCliTest, HelpListsEveryCommand) {
  auto r = webhook_cli({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* command : {"sign", "verify", "listen"}) {
    EXPECT_NE(r.out.find(command), std::string::npos) << command;
  }
  for (const char* command : {"sign", "verify", "listen"}) {
    auto help = webhook_cli({command, "--help"});
    EXPECT_EQ(help.exit_code, 0) << command;
    EXPECT_NE(help.out.find(std::string("usage: tresse-webhook ") + command), std::string::npos)
        << help.out;
  }
}

TEST(WebhookCliTest, PrintsItsVersion) {
  auto r = webhook_cli({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(r.out.starts_with("tresse-webhook ")) << r.out;
}

}  // namespace
}  // namespace tresse::test
