#include "redis/command_list.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tresse::dispatcher::redis {
namespace {

TEST(CommandListTest, EncodesEachCommandAsARespArrayOfBulkStrings) {
  command_list c;
  const std::string key = "tresse:k";
  c.add({"SET", key, "v"}).add({"PING"});
  EXPECT_EQ(c.size(), 2u);
  EXPECT_EQ(c.resp(), "*3\r\n$3\r\nSET\r\n$8\r\ntresse:k\r\n$1\r\nv\r\n*1\r\n$4\r\nPING\r\n");
}

TEST(CommandListTest, ArgumentsAreBinarySafe) {
  command_list c;
  const std::string binary("a\r\n\0b", 5);
  c.add(std::vector<std::string>{"SET", "k", binary, ""});
  EXPECT_EQ(c.resp(), std::string("*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\r\n\0b\r\n$0\r\n\r\n", 37));
}

TEST(CommandListTest, EncodesLongArgumentsAndManyCommandsInOneBuffer) {
  command_list c;
  std::string expected;
  std::vector<std::string_view> argv = {"LPUSH", "tresse:list"};
  const std::string big(12345, 'b');
  for (int i = 0; i < 12; ++i) argv.push_back(big);
  for (int n = 0; n < 50; ++n) {
    c.add(argv);
    expected += "*14\r\n$5\r\nLPUSH\r\n$11\r\ntresse:list\r\n";
    for (int i = 0; i < 12; ++i) expected += "$12345\r\n" + big + "\r\n";
  }
  EXPECT_EQ(c.size(), 50u);
  EXPECT_EQ(c.resp(), expected);
}

TEST(CommandListTest, AppendKeepsOrderAndCounts) {
  command_list a, b;
  a.add({"GET", "x"});
  b.add({"GET", "y"}).add({"GET", "z"});
  a.append(b);
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(a.resp(), "*2\r\n$3\r\nGET\r\n$1\r\nx\r\n*2\r\n$3\r\nGET\r\n$1\r\ny\r\n"
                      "*2\r\n$3\r\nGET\r\n$1\r\nz\r\n");
  EXPECT_TRUE(command_list{}.empty());
}

}  // namespace
}  // namespace tresse::dispatcher::redis
