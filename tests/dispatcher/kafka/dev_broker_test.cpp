// `dev-broker` as a process of its own (forked), with consumers restarting against it.
#include "kafka/dev_broker.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "cli/command_line.hpp"
#include "dispatcher/cli/run_cli.hpp"
#include "kafka/consumer.hpp"
#include "support/kafka_cluster.hpp"
#include "tresse/common/kafka.hpp"

namespace tresse::dispatcher::kafka {
namespace {

namespace fs = std::filesystem;
using test::kafka_wait_until;

// Kills the forked broker if the test ends early, so no process or file outlives the test.
struct child_guard {
  pid_t pid = -1;
  fs::path file;
  ~child_guard() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    std::error_code ec;
    fs::remove(file, ec);
  }
};

TEST(DevBrokerTest, RejectsUsageErrors) {
  EXPECT_EQ(test::run_cli({"dev-broker", "--bootstrap-file", "f", "--partitions", "x"}).code, 2);
  EXPECT_EQ(test::run_cli({"dev-broker", "--bootstrap-file", "f", "--partitions", "0"}).code, 2);
  EXPECT_EQ(test::run_cli({"dev-broker", "--bootstrap-file"}).code, 2);
  auto r = test::run_cli({"dev-broker"});
  EXPECT_EQ(r.code, 2);  // --bootstrap-file is required
  EXPECT_NE(r.err.find("--bootstrap-file"), std::string::npos) << r.err;
}

TEST(DevBrokerTest, CommittedOffsetsOutliveConsumerRestartsUntilSigterm) {
  fs::path file = fs::temp_directory_path() / ("tresse-dev-broker-" + std::to_string(::getpid()));
  fs::remove(file);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // --flag=value and --flag value, through the program's parser.
    std::string f = file.string();
    const char* argv[] = {"tresse-dispatcher", "dev-broker", "--bootstrap-file", f.c_str(),
                          "--partitions=2", nullptr};
    ::_exit(cli::main(5, argv, [](const cli::run_request&) { return 99; }));
  }
  child_guard guard{child, file};
  std::string bootstrap;
  ASSERT_TRUE(kafka_wait_until([&] {
    std::ifstream in(file);
    return static_cast<bool>(std::getline(in, bootstrap)) && !bootstrap.empty();
  }));
  EXPECT_TRUE(bootstrap.starts_with("127.0.0.1:")) << bootstrap;

  {
    tresse::kafka::producer_options po;
    po.brokers = bootstrap;
    auto p = tresse::kafka::producer::create(po);
    ASSERT_TRUE(p);
    for (int i = 0; i < 4; ++i) {
      ASSERT_TRUE((*p)->produce_and_wait("tresse.events", "biz_dev", std::to_string(i), 10s));
    }
  }
  auto run_consumer = [&](std::size_t expect, int finish) {
    std::mutex m;
    std::vector<message> got;
    consumer_options o;
    o.brokers = bootstrap;
    o.group_id = "g-dev";
    o.commit_interval = 50ms;
    o.extra = test::kafka_cluster::fast_consumer_config();
    auto c = consumer::create(o, [&](message msg) {
      std::lock_guard lock(m);
      got.push_back(std::move(msg));
    });
    EXPECT_TRUE(c);
    if (!c) return got;
    EXPECT_TRUE(kafka_wait_until([&] {
      std::lock_guard lock(m);
      return got.size() >= expect;
    }));
    std::lock_guard lock(m);
    for (int i = 0; i < finish && i < static_cast<int>(got.size()); ++i) {
      (*c)->done(got[i].partition, got[i].offset);
    }
    (*c)->stop(0ms);
    return got;
  };
  auto first = run_consumer(4, 2);  // finishes 2 of 4, then "crashes"
  ASSERT_EQ(first.size(), 4u);
  auto second = run_consumer(2, 2);  // same group, new consumer: resumes at the third
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[0].value, "2");
  EXPECT_EQ(second[1].value, "3");

  ASSERT_EQ(::kill(child, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  guard.pid = -1;
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_FALSE(fs::exists(file));
}

}  // namespace
}  // namespace tresse::dispatcher::kafka
