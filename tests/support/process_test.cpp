#include "support/process.hpp"

#include <signal.h>

#include <gtest/gtest.h>

#include <string>

namespace tresse::test {
namespace {

// More than a pipe holds (64 KiB), so the writes must meet a child that never reads.
const std::string big_input(1 << 20, 'x');

TEST(ProcessTest, SurvivesAChildThatExitsWithoutReadingStdin) {
  // /bin/true never reads: the harness's writes get EPIPE, which once raised SIGPIPE and
  // killed the whole test binary.
  for (int i = 0; i < 20; ++i) {
    auto r = run_process({"/bin/true"}, big_input);
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, 0);
  }
}

TEST(ProcessTest, ReportsTheExitCodeOfAChildThatRejectsItsInput) {
  auto r = run_process({"/bin/sh", "-c", "echo refused >&2; exit 2"}, big_input);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "refused\n");
}

TEST(ProcessTest, FeedsTheWholeInputToAChildThatReadsIt) {
  auto r = run_process({"/usr/bin/wc", "-c"}, big_input);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(std::stoul(r.out), big_input.size());
}

TEST(ProcessTest, ChildrenGetTheDefaultSigpipeBack) {
  // The harness ignores SIGPIPE for itself; a child must not inherit that, or a CLI under test
  // would be tested in conditions it never meets in production. Field 'SigIgn' is a hex mask;
  // SIGPIPE (13) is bit 12.
  auto r = run_process({"/bin/sh", "-c", "grep SigIgn /proc/self/status"});
  ASSERT_EQ(r.exit_code, 0);
  auto hex = r.out.substr(r.out.find(':') + 1);
  unsigned long long mask = std::stoull(hex, nullptr, 16);
  EXPECT_EQ(mask & (1ULL << (SIGPIPE - 1)), 0U) << r.out;
}

}  // namespace
}  // namespace tresse::test
