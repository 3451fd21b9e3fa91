// tresse-publish run as a process against a mock cluster.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/kafka_cluster.hpp"
#include "tresse/common/event.hpp"

namespace {

namespace fs = std::filesystem;

struct run_result {
  int exit_code = -1;
  std::string out, err;
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'')
      q += "'\\''";
    else
      q += c;
  }
  return q + "'";
}

class PublishCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tresse-publish-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  run_result run(const std::vector<std::string>& args, const std::string& stdin_text = "") {
    std::ofstream(dir_ / "in") << stdin_text;
    std::string cmd = quote(TRESSE_PUBLISH_BIN);
    for (const auto& a : args) cmd += " " + quote(a);
    cmd += " <" + quote(dir_ / "in") + " >" + quote(dir_ / "out") + " 2>" + quote(dir_ / "err");
    int status = std::system(cmd.c_str());
    run_result r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(dir_ / "out");
    r.err = slurp(dir_ / "err");
    return r;
  }
  static std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  fs::path dir_;
  tresse::test::kafka_cluster kafka_;
};

TEST_F(PublishCliTest, PublishesOneEventFromFlags) {
  auto r = run({"--brokers", kafka_.bootstrap(), "--type", "appointment.canceled", "--business",
                "biz_cli", "--data", R"({"id":"apt_1","status":"canceled"})", "--id", "evt_cli1",
                "--test-mode"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "evt_cli1\n1 published, 0 refused, 0 failed\n");
  auto records = kafka_.read("tresse.events", 1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].key, "biz_cli");
  auto ev = tresse::events::parse_event(records[0].value);
  ASSERT_TRUE(ev) << records[0].value;
  EXPECT_EQ(ev->id, "evt_cli1");
  EXPECT_EQ(ev->type, "appointment.canceled");
  EXPECT_FALSE(ev->livemode);
  EXPECT_NE(records[0].value.find(R"("data":{"id":"apt_1","status":"canceled"})"),
            std::string::npos);
}

TEST_F(PublishCliTest, GeneratesAnIdWhenNoneIsGiven) {
  auto r = run({"--brokers", kafka_.bootstrap(), "--type", "client.created", "--business", "b1",
                "--topic", "tresse.webhooks.ops"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.starts_with("evt_")) << r.out;
  auto records = kafka_.read("tresse.webhooks.ops", 1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_NE(records[0].value.find(r.out.substr(0, r.out.find('\n'))), std::string::npos);
}

TEST_F(PublishCliTest, RefusesABadEventFromFlags) {
  auto r = run(
      {"--brokers", kafka_.bootstrap(), "--type", "appointment.exploded", "--business", "biz_1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("refused: unknown event type 'appointment.exploded'"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.out, "0 published, 1 refused, 0 failed\n");
}

TEST_F(PublishCliTest, ValidateRefusesDataThatDoesNotMatchItsSchemaNamingTheField) {
  const std::string good = R"({"id":"cli_1","name":"Ana Souza","created_at":"2026-04-19T10:30:00Z"})";
  const std::string bad = R"({"id":"cli_1","name":"Ana Souza","created_at":"yesterday"})";
  auto refused = run({"--brokers", kafka_.bootstrap(), "--validate", "--type", "client.created",
                      "--business", "biz_v", "--data", bad});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("refused: data.created_at: expected string (date-time)"),
            std::string::npos)
      << refused.err;
  EXPECT_EQ(refused.out, "0 published, 1 refused, 0 failed\n");

  // Without --validate the same event goes out (only the envelope is checked); with it, a good one.
  auto unchecked = run({"--brokers", kafka_.bootstrap(), "--type", "client.created", "--business",
                        "biz_v", "--data", bad});
  EXPECT_EQ(unchecked.exit_code, 0) << unchecked.err;
  auto checked = run({"--brokers", kafka_.bootstrap(), "--validate", "--type", "client.created",
                      "--business", "biz_v", "--data", good});
  EXPECT_EQ(checked.exit_code, 0) << checked.err;
  EXPECT_EQ(kafka_.read("tresse.events", 2).size(), 2u);

  // JSON lines too, line by line.
  auto line = [](const std::string& id, const std::string& data) {
    return R"({"id":")" + id + R"(","type":"client.created","business_id":"biz_v","livemode":true,)"
           R"("timestamp":"2026-04-19T10:32:00Z","data":)" + data + "}";
  };
  auto lines = run({"--brokers", kafka_.bootstrap(), "--validate", "--file", "-"},
                   line("evt_v1", good) + "\n" + line("evt_v2", R"({"id":"cli_2"})") + "\n");
  EXPECT_EQ(lines.exit_code, 1);
  EXPECT_NE(lines.err.find("line 2: refused: data.name: required field missing"), std::string::npos)
      << lines.err;
  EXPECT_EQ(lines.out, "1 published, 1 refused, 0 failed\n");

  // Synthetic load is valid data.
  auto synthetic = run({"--brokers", kafka_.bootstrap(), "--validate", "--count", "20"});
  EXPECT_EQ(synthetic.exit_code, 0) << synthetic.err;
  EXPECT_EQ(synthetic.out, "20 published, 0 refused, 0 failed\n");
}

TEST_F(PublishCliTest, SendsTheGoodLinesOfAFileAndReportsTheBadOnes) {
  auto good = [](const std::string& id) {
    return R"({"id":")" + id +
           R"(","type":"client.updated","business_id":"biz_f","livemode":true,)"
           R"("timestamp":"2026-04-19T10:32:00Z","data":{}})";
  };
  std::ofstream(dir_ / "events.jsonl") << good("evt_1") << "\n"
                                       << "{not json\n"
                                       << "\n"
                                       << good("evt_2") << "\r\n"
                                       << R"({"id":"evt_3","type":"client.updated"})"
                                       << "\n"
                                       << good("evt_4");  // no final newline
  auto r = run({"--brokers", kafka_.bootstrap(), "--file", (dir_ / "events.jsonl").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "3 published, 2 refused, 0 failed\n");
  EXPECT_NE(r.err.find("line 2: refused: bad JSON"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("line 5: refused: missing field 'business_id'"), std::string::npos) << r.err;
  auto records = kafka_.read("tresse.events", 3);
  ASSERT_EQ(records.size(), 3u);  // one key, one partition: in file order
  EXPECT_EQ(records[0].value, good("evt_1"));
  EXPECT_EQ(records[1].value, good("evt_2"));
  EXPECT_EQ(records[2].value, good("evt_4"));
}

TEST_F(PublishCliTest, ReadsLinesFromStdin) {
  std::string line = R"({"id":"evt_in","type":"webhook.test","business_id":"biz_s",)"
                     R"("livemode":false,"timestamp":"2026-04-19T10:32:00Z","data":{}})";
  auto r = run({"--brokers", kafka_.bootstrap()}, line + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1 published, 0 refused, 0 failed\n");
  auto records = kafka_.read("tresse.events", 1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].value, line);
}

TEST_F(PublishCliTest, GeneratesSyntheticLoadSpreadOverBusinesses) {
  auto r = run({"--brokers", kafka_.bootstrap(), "--count", "200", "--businesses", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "200 published, 0 refused, 0 failed\n");
  auto records = kafka_.read("tresse.events", 200);
  ASSERT_EQ(records.size(), 200u);
  std::set<std::string> businesses, ids;
  for (const auto& r : records) {
    auto ev = tresse::events::parse_event(r.value);
    ASSERT_TRUE(ev) << r.value;
    EXPECT_TRUE(ev->type.starts_with("appointment.")) << ev->type;
    EXPECT_EQ(r.key, ev->business_id);
    businesses.insert(ev->business_id);
    ids.insert(ev->id);
  }
  EXPECT_EQ(ids.size(), 200u);
  EXPECT_LE(businesses.size(), 4u);
  EXPECT_GE(businesses.size(), 2u);
}

TEST_F(PublishCliTest, PacesAtTheRequestedRate) {
  auto start = std::chrono::steady_clock::now();
  auto r = run({"--brokers", kafka_.bootstrap(), "--count", "20", "--rate", "40"});
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(elapsed, std::chrono::milliseconds(450));  // 19 gaps of 25 ms
}

TEST_F(PublishCliTest, RejectsUsageErrors) {
  EXPECT_EQ(run({}).exit_code, 2);
  EXPECT_EQ(run({"--brokers", kafka_.bootstrap(), "--count", "x"}).exit_code, 2);
  EXPECT_EQ(run({"--brokers", kafka_.bootstrap(), "--bogus", "1"}).exit_code, 2);
  EXPECT_EQ(run({"--brokers", kafka_.bootstrap(), "--file", (dir_ / "missing").string()}).exit_code,
            2);
  EXPECT_EQ(run({"--brokers", kafka_.bootstrap(), "--rate", "-1", "--count", "1"}).exit_code, 2);
  auto missing = run({"--count", "1"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("--brokers is required"), std::string::npos) << missing.err;
}

TEST_F(PublishCliTest, HelpAndVersionExitZero) {
  auto help = run({"--help"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  EXPECT_NE(help.out.find("usage: tresse-publish"), std::string::npos) << help.out;
  for (const char* flag : {"--brokers", "--topic", "--type", "--business", "--data", "--id",
                           "--test-mode", "--file", "--count", "--rate", "--businesses",
                           "--timeout", "--version"}) {
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
  }
  auto version = run({"--version"});
  EXPECT_EQ(version.exit_code, 0) << version.err;
  EXPECT_TRUE(std::regex_match(version.out, std::regex("tresse-publish [0-9]+\\.[0-9]+\\.[0-9]+\n")))
      << version.out;
}

TEST_F(PublishCliTest, TakesFlagEqualsValue) {
  auto r = run({"--brokers=" + kafka_.bootstrap(), "--type=client.created", "--business=biz_eq",
                "--data={\"id\":\"cli_1\"}"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("1 published, 0 refused, 0 failed"), std::string::npos) << r.out;
}

}  // namespace
