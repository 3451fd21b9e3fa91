#include "tresse/common/thread_name.hpp"

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

namespace {

std::string comm_of_this_thread() {
  std::ifstream f("/proc/self/task/" + std::to_string(::syscall(SYS_gettid)) + "/comm");
  std::string name;
  std::getline(f, name);
  return name;
}

TEST(ThreadNameTest, NamesTheCallingThreadOnly) {
  const std::string before = comm_of_this_thread();
  std::string seen;
  std::thread([&seen] {
    tresse::name_this_thread("shard-3");
    seen = comm_of_this_thread();
  }).join();
  EXPECT_EQ(seen, "shard-3");
  EXPECT_EQ(comm_of_this_thread(), before);
}

TEST(ThreadNameTest, ALongNameIsCutToWhatLinuxKeeps) {
  std::string seen;
  std::thread([&seen] {
    tresse::name_this_thread("kafka-consumer-of-many-topics");
    seen = comm_of_this_thread();
  }).join();
  EXPECT_EQ(seen, "kafka-consumer-");  // 15 bytes
}

}  // namespace
