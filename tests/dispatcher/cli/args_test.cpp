#include "cli/args.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tresse::dispatcher::cli {
namespace {

result<args> parse(std::vector<std::string> argv, const flag_spec& spec) {
  std::vector<char*> ptrs;
  for (auto& a : argv) ptrs.push_back(a.data());
  return args::parse(static_cast<int>(ptrs.size()), ptrs.data(), 1, spec);
}

TEST(ArgsTest, ReadsValuesSwitchesAndPositionals) {
  auto a = parse({"cmd", "--id", "we_1", "--quiet", "extra"},
                 {.values = {"--id"}, .switches = {"--quiet"}, .max_positional = 1});
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->value("--id"), "we_1");
  EXPECT_TRUE(a->has("--quiet"));
  EXPECT_FALSE(a->get("--other"));
  EXPECT_EQ(a->value("--other"), "");
  EXPECT_EQ(a->positional(), std::vector<std::string>{"extra"});
}

TEST(ArgsTest, NamesWhatItRefuses) {
  flag_spec spec{.values = {"--id"}, .max_positional = 1};
  EXPECT_EQ(parse({"cmd", "--id"}, spec).error().message, "--id needs a value");
  EXPECT_EQ(parse({"cmd", "--nope"}, spec).error().message, "unknown flag --nope");
  EXPECT_EQ(parse({"cmd", "a", "b"}, spec).error().message, "unexpected argument b");
  EXPECT_EQ(parse({"cmd", "a"}, {.values = {"--id"}}).error().message, "unknown flag a");
}

}  // namespace
}  // namespace tresse::dispatcher::cli
