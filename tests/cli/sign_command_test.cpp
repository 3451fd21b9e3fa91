// tresse-webhook sign, run as a process.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "cli/webhook_cli.hpp"

namespace tresse::test {
namespace {

std::vector<std::string> spec_sign_args() {
  return {"sign",
          "--secret",
          std::string(spec_secret),
          "--id",
          std::string(spec_id),
          "--timestamp",
          std::string(spec_timestamp)};
}

TEST(SignCommandTest, PrintsTheThreeHeadersOfTheSpecVector) {
  auto r = webhook_cli(spec_sign_args(), spec_body);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "webhook-id: " + std::string(spec_id) + "\n" +
                       "webhook-timestamp: " + std::string(spec_timestamp) + "\n" +
                       "webhook-signature: " + std::string(spec_signature) + "\n");
  EXPECT_EQ(r.err, "");
}

TEST(SignCommandTest, ReadsTheBodyFromAFileAsFromStdin) {
  auto path = std::filesystem::temp_directory_path() /
              ("tresse_sign_body_" + std::to_string(::getpid()) + ".json");
  std::ofstream(path, std::ios::binary) << spec_body;
  auto args = spec_sign_args();
  args.push_back("--body-file");
  args.push_back(path.string());
  auto r = webhook_cli(args, "ignored: the file wins");
  std::filesystem::remove(path);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(header_value(r.out, "webhook-signature"), spec_signature);
}

TEST(SignCommandTest, SignsWithEverySecretSpaceSeparated) {
  auto args = spec_sign_args();
  args.push_back("--secret");
  args.push_back(std::string(other_secret));
  auto both = webhook_cli(args, spec_body);
  ASSERT_EQ(both.exit_code, 0) << both.err;

  auto other = webhook_cli({"sign", "--secret", std::string(other_secret), "--id",
                            std::string(spec_id), "--timestamp", std::string(spec_timestamp)},
                           spec_body);
  ASSERT_EQ(other.exit_code, 0) << other.err;
  std::string other_signature = header_value(other.out, "webhook-signature");
  EXPECT_NE(other_signature, spec_signature);
  EXPECT_EQ(header_value(both.out, "webhook-signature"),
            std::string(spec_signature) + " " + other_signature);
}

TEST(SignCommandTest, SignsADifferentBodyDifferently) {
  auto r = webhook_cli(spec_sign_args(), R"({"test": 2432232315})");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string signature = header_value(r.out, "webhook-signature");
  EXPECT_TRUE(signature.starts_with("v1,")) << signature;
  EXPECT_NE(signature, spec_signature);
}

TEST(SignCommandTest, ExitsTwoOnBadUsage) {
  const std::string s(spec_secret);
  const std::vector<std::vector<std::string>> bad = {
      {"sign", "--id", "evt_1", "--timestamp", "1"},                        // no secret
      {"sign", "--secret", s, "--timestamp", "1"},                          // no id
      {"sign", "--secret", s, "--id", "evt_1"},                             // no timestamp
      {"sign", "--secret", s, "--id", "evt_1", "--timestamp", "12x"},       // bad number
      {"sign", "--secret", s, "--id", "evt_1", "--timestamp", "-5"},        // negative
      {"sign", "--secret", s, "--id", "evt_1", "--timestamp", "1", "--x"},  // unknown option
      {"sign", "--secret", s, "--id", "evt_1", "--timestamp"},              // missing value
      {"sign", "--secret", s, "--id", "evt_1", "--timestamp", "1", "extra"},
      {"sign", "--secret", s, "--id", "evt_1", "--timestamp", "1", "--body-file",
       "/nonexistent/body.json"},
  };
  for (const auto& args : bad) {
    auto r = webhook_cli(args, spec_body);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_EQ(r.exit_code, 2) << joined;
    EXPECT_EQ(r.out, "") << joined;
    EXPECT_NE(r.err, "") << joined;
  }
}

TEST(SignCommandTest, RejectsAnUnparsableSecretWithoutEchoingIt) {
  auto r = webhook_cli(
      {"sign", "--secret", "whsec_not*base64*SeCrEt", "--id", "evt_1", "--timestamp", "1"},
      spec_body);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--secret #1"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("SeCrEt"), std::string::npos) << r.err;
}

TEST(SignCommandTest, TakesTheSecretsFromAFileOrTheEnvironment) {
  const std::string expected = "webhook-signature: " + std::string(spec_signature) + "\n";
  auto path =
      std::filesystem::temp_directory_path() / ("tresse_sign_secret_" + std::to_string(::getpid()));
  std::ofstream(path) << spec_secret << "\n";
  auto from_file = webhook_cli({"sign", "--secret-file", path.string(), "--id",
                                std::string(spec_id), "--timestamp", std::string(spec_timestamp)},
                               spec_body);
  std::filesystem::remove(path);
  EXPECT_EQ(from_file.exit_code, 0) << from_file.err;
  EXPECT_NE(from_file.out.find(expected), std::string::npos) << from_file.out;

  auto from_env = run_process(
      {"/usr/bin/env", "TRESSE_WEBHOOK_SECRET=" + std::string(spec_secret), TRESSE_WEBHOOK_BIN,
       "sign", "--id", std::string(spec_id), "--timestamp", std::string(spec_timestamp)},
      spec_body);
  EXPECT_EQ(from_env.exit_code, 0) << from_env.err;
  EXPECT_NE(from_env.out.find(expected), std::string::npos) << from_env.out;

  // Without any secret it stays a usage error.
  auto none = run_process({"/usr/bin/env", "-u", "TRESSE_WEBHOOK_SECRET", TRESSE_WEBHOOK_BIN,
                           "sign", "--id", "evt_1", "--timestamp", "1"},
                          spec_body);
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("TRESSE_WEBHOOK_SECRET"), std::string::npos) << none.err;
}

TEST(SignCommandTest, HelpExitsZero) {
  auto r = webhook_cli({"sign", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--timestamp"), std::string::npos);
}

}  // namespace
}  // namespace tresse::test
