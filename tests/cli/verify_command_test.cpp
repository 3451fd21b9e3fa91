// tresse-webhook verify, run as a process: exit 0 "valid", exit 1 with the error code as the
// first word, exit 2 on bad usage.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "cli/webhook_cli.hpp"

namespace tresse::test {
namespace {

const std::string now = "1614265400";  // 70 s after the spec vector's timestamp

std::vector<std::string> verify_args(const std::vector<std::string>& headers,
                                     std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"verify", "--secret", std::string(spec_secret), "--now", now};
  for (const auto& h : headers) {
    args.push_back("--header");
    args.push_back(h);
  }
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::vector<std::string> spec_headers() {
  return {"webhook-id: " + std::string(spec_id),
          "webhook-timestamp: " + std::string(spec_timestamp),
          "webhook-signature: " + std::string(spec_signature)};
}

TEST(VerifyCommandTest, AcceptsTheSpecVector) {
  auto r = webhook_cli(verify_args(spec_headers()), spec_body);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "valid\n");
}

TEST(VerifyCommandTest, AcceptsWhatSignProduces) {
  std::string body = R"({"id":"evt_2Hq9x7LmQ","type":"appointment.created"})";
  auto headers = sign_with_cli({std::string(other_secret)}, "evt_2Hq9x7LmQ", 1776594720, body);
  ASSERT_EQ(headers.size(), 3u);
  std::vector<std::string> args = {"verify", "--secret", std::string(other_secret), "--now",
                                   "1776594721"};
  for (const auto& [name, value] : headers) {
    args.push_back("--header");
    args.push_back(name + ": " + value);
  }
  auto r = webhook_cli(args, body);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "valid\n");
}

TEST(VerifyCommandTest, RejectsATamperedBody) {
  auto r = webhook_cli(verify_args(spec_headers()), R"({"test": 2432232315})");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(first_word(r.out), "no_matching_signature") << r.out;
}

TEST(VerifyCommandTest, RejectsTheWrongSecret) {
  auto args = verify_args(spec_headers());
  args[2] = std::string(other_secret);
  auto r = webhook_cli(args, spec_body);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(first_word(r.out), "no_matching_signature") << r.out;
}

TEST(VerifyCommandTest, ReportsAMissingHeader) {
  auto headers = spec_headers();
  headers.erase(headers.begin());  // no webhook-id
  auto r = webhook_cli(verify_args(headers), spec_body);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(first_word(r.out), "missing_header") << r.out;
  EXPECT_NE(r.out.find("webhook-id"), std::string::npos) << r.out;
}

TEST(VerifyCommandTest, ReportsAnInvalidTimestamp) {
  auto headers = spec_headers();
  headers[1] = "webhook-timestamp: 16142653x0";
  auto r = webhook_cli(verify_args(headers), spec_body);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(first_word(r.out), "invalid_timestamp") << r.out;
}

TEST(VerifyCommandTest, ReportsATimestampTooOld) {
  auto args = verify_args(spec_headers());
  args[4] = "1614265631";  // 301 s later
  auto r = webhook_cli(args, spec_body);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(first_word(r.out), "timestamp_too_old") << r.out;
}

TEST(VerifyCommandTest, ReportsATimestampTooNew) {
  auto args = verify_args(spec_headers());
  args[4] = "1614265029";  // 301 s earlier
  auto r = webhook_cli(args, spec_body);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(first_word(r.out), "timestamp_too_new") << r.out;
}

TEST(VerifyCommandTest, ToleranceSetsTheWindow) {
  auto args = verify_args(spec_headers(), {"--tolerance", "3600"});
  args[4] = "1614268000";  // 2670 s later
  EXPECT_EQ(webhook_cli(args, spec_body).exit_code, 0);
  args = verify_args(spec_headers(), {"--tolerance", "10"});  // now is 70 s later
  auto r = webhook_cli(args, spec_body);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(first_word(r.out), "timestamp_too_old") << r.out;
}

TEST(VerifyCommandTest, AcceptsEitherSecretDuringRotation) {
  // Signed with the old secret only; the receiver knows the new and the old one.
  auto args = verify_args(spec_headers(), {"--secret", std::string(other_secret)});
  EXPECT_EQ(webhook_cli(args, spec_body).exit_code, 0);

  // Signed with both; a receiver that only knows the new secret accepts it.
  auto both = sign_with_cli({std::string(spec_secret), std::string(other_secret)},
                            std::string(spec_id), 1614265330, spec_body);
  ASSERT_EQ(both.size(), 3u);
  EXPECT_NE(both[2].second.find(' '), std::string::npos) << both[2].second;
  std::vector<std::string> only_new = {"verify", "--secret", std::string(other_secret), "--now",
                                       now};
  for (const auto& [name, value] : both) {
    only_new.push_back("--header");
    only_new.push_back(name + ": " + value);
  }
  auto r = webhook_cli(only_new, spec_body);
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

TEST(VerifyCommandTest, HeaderNamesMatchInAnyCase) {
  auto r = webhook_cli(verify_args({"Webhook-Id: " + std::string(spec_id),
                                    "WEBHOOK-TIMESTAMP:" + std::string(spec_timestamp),
                                    "webhook-Signature:   " + std::string(spec_signature)}),
                       spec_body);
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

TEST(VerifyCommandTest, ReadsTheBodyFromAFile) {
  auto path = std::filesystem::temp_directory_path() /
              ("tresse_verify_body_" + std::to_string(::getpid()) + ".json");
  std::ofstream(path, std::ios::binary) << spec_body;
  auto r = webhook_cli(verify_args(spec_headers(), {"--body-file", path.string()}), "tampered");
  std::filesystem::remove(path);
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

TEST(VerifyCommandTest, ExitsTwoOnBadUsage) {
  const std::vector<std::vector<std::string>> bad = {
      verify_args(spec_headers(), {"--unknown"}),
      verify_args(spec_headers(), {"--tolerance"}),         // missing value
      verify_args(spec_headers(), {"--tolerance", "ten"}),  // bad number
      verify_args(spec_headers(), {"--now", "12abc"}),
      verify_args(spec_headers(), {"--header", "no colon here"}),
      {"verify", "--header", "webhook-id: x"},  // no secret
      {"verify", "--secret-file", "/nonexistent/tresse/secrets", "--header", "webhook-id: x"},
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

TEST(VerifyCommandTest, ReportsAnUnusableSecretAsInvalidSecret) {
  // One of verify's documented outcomes, not a usage error: exit 1, the code as the first word.
  for (const std::string secret : {"whsec_", "whsec_!!", "whsec_c2VjcmV0-not-base64", "nope!"}) {
    std::vector<std::string> args = {"verify", "--secret", secret, "--now", now};
    for (const auto& h : spec_headers()) args.insert(args.end(), {"--header", h});
    auto r = webhook_cli(args, spec_body);
    EXPECT_EQ(r.exit_code, 1) << secret << ": " << r.out << r.err;
    EXPECT_EQ(first_word(r.out), "invalid_secret") << secret << ": " << r.out;
    EXPECT_NE(r.out.find("--secret #1"), std::string::npos) << r.out;
    if (secret.size() > 6) EXPECT_EQ(r.out.find(secret.substr(6)), std::string::npos) << r.out;
  }
  // A good secret beside a bad one does not hide the bad one.
  auto r = webhook_cli(verify_args(spec_headers(), {"--secret", "whsec_"}), spec_body);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(first_word(r.out), "invalid_secret") << r.out;
  EXPECT_NE(r.out.find("--secret #2"), std::string::npos) << r.out;
}

TEST(VerifyCommandTest, UsageErrorsWinOverAnUnusableSecret) {
  auto r = webhook_cli({"verify", "--secret", "whsec_", "--tolerance", "ten"}, spec_body);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_EQ(r.out, "");
}

TEST(VerifyCommandTest, ReadsTheSecretsFromAFile) {
  auto path = std::filesystem::temp_directory_path() /
              ("tresse_verify_secrets_" + std::to_string(::getpid()));
  std::ofstream(path) << "# one secret per line\n" << other_secret << "\r\n" << spec_secret << "\n";
  std::vector<std::string> args = {"verify", "--secret-file", path.string(), "--now", now};
  for (const auto& h : spec_headers()) args.insert(args.end(), {"--header", h});
  auto r = webhook_cli(args, spec_body);
  std::ofstream(path) << other_secret << "\nwhsec_\n";
  auto bad = webhook_cli(args, spec_body);
  std::filesystem::remove(path);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "valid\n");
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  EXPECT_EQ(first_word(bad.out), "invalid_secret") << bad.out;
  EXPECT_NE(bad.out.find("secret #2"), std::string::npos) << bad.out;
}

TEST(VerifyCommandTest, ReadsTheSecretsFromTheEnvironment) {
  std::vector<std::string> args = {
      "/usr/bin/env",
      "TRESSE_WEBHOOK_SECRET=" + std::string(other_secret) + "  " + std::string(spec_secret),
      TRESSE_WEBHOOK_BIN,
      "verify",
      "--now",
      now};
  for (const auto& h : spec_headers()) args.insert(args.end(), {"--header", h});
  auto r = run_process(args, spec_body);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "valid\n");
  args[1] = "TRESSE_WEBHOOK_SECRET=whsec_";
  auto bad = run_process(args, spec_body);
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  EXPECT_EQ(first_word(bad.out), "invalid_secret") << bad.out;
  EXPECT_NE(bad.out.find("TRESSE_WEBHOOK_SECRET"), std::string::npos) << bad.out;
}

TEST(VerifyCommandTest, RejectsASignatureWithoutItsPadding) {
  std::string unpadded(spec_signature);
  unpadded.pop_back();  // the '='
  auto r = webhook_cli(verify_args({"webhook-id: " + std::string(spec_id),
                                    "webhook-timestamp: " + std::string(spec_timestamp),
                                    "webhook-signature: " + unpadded}),
                       spec_body);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(first_word(r.out), "no_matching_signature") << r.out;
}

}  // namespace
}  // namespace tresse::test
