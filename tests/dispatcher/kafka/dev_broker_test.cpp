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
  std::vector<std::string> args = {"dev-broker", "--partitions", "x"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  EXPECT_EQ(run_dev_broker(static_cast<int>(argv.size()), argv.data()), 2);
  char name[] = "dev-broker";
  char* only_name[] = {name};
  EXPECT_EQ(run_dev_broker(1, only_name), 2);  // --bootstrap-file is required
}

TEST(DevBrokerTest, CommittedOffsetsOutliveConsumerRestartsUntilSigterm) {
  fs::path file = fs::temp_directory_path() / ("tresse-dev-broker-" + std::to_string(::getpid()));
  fs::remove(file);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::string f = file.string();
    std::vector<std::string> args = {"dev-broker", "--bootstrap-file", f, "--partitions", "2"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    ::_exit(run_dev_broker(static_cast<int>(argv.size()), argv.data()));
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
