#include "redis/resp_reader.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tresse::dispatcher::redis {
namespace {

using namespace std::string_literals;

// Every whole reply in `in`, fed `chunk` bytes at a time; fails the test on a protocol error.
std::vector<reply> read_all(resp_reader& r, std::string_view in, std::size_t chunk) {
  std::vector<reply> out;
  for (std::size_t at = 0; at < in.size(); at += chunk) {
    const auto piece = in.substr(at, chunk);
    r.feed(piece.data(), piece.size());
    for (;;) {
      auto next = r.next();
      EXPECT_TRUE(next) << next.error().message;
      if (!next || !*next) break;
      out.push_back(std::move(**next));
    }
  }
  return out;
}

// A pipeline's replies as Redis sends them: an EVALSHA's array, GET nil, HMGET, a status, an
// integer, an error, a binary bulk, an empty array and a nil array.
const std::string pipeline =
    "*3\r\n:1\r\n*2\r\n$2\r\nab\r\n$-1\r\n$0\r\n\r\n"
    "$-1\r\n"
    "*3\r\n$1\r\n7\r\n$-1\r\n$2\r\n12\r\n"
    "+OK\r\n"
    ":-42\r\n"
    "-NOSCRIPT No matching script\r\n"
    "$5\r\na\r\n\0b\r\n"
    "*0\r\n"
    "*-1\r\n"s;

void expect_pipeline(const std::vector<reply>& r) {
  ASSERT_EQ(r.size(), 9u);
  ASSERT_EQ(r[0].type, reply::kind::array);
  ASSERT_EQ(r[0].elements.size(), 3u);
  EXPECT_EQ(r[0].elements[0].integer, 1);
  ASSERT_EQ(r[0].elements[1].elements.size(), 2u);
  EXPECT_EQ(r[0].elements[1].elements[0].str, "ab");
  EXPECT_TRUE(r[0].elements[1].elements[1].is_nil());
  EXPECT_EQ(r[0].elements[2].type, reply::kind::string);
  EXPECT_EQ(r[0].elements[2].str, "");
  EXPECT_TRUE(r[1].is_nil());
  ASSERT_EQ(r[2].elements.size(), 3u);
  EXPECT_EQ(r[2].elements[0].str, "7");
  EXPECT_TRUE(r[2].elements[1].is_nil());
  EXPECT_EQ(r[3].type, reply::kind::status);
  EXPECT_EQ(r[3].str, "OK");
  EXPECT_EQ(r[4].type, reply::kind::integer);
  EXPECT_EQ(r[4].integer, -42);
  EXPECT_EQ(r[5].type, reply::kind::error);
  EXPECT_EQ(r[5].str, "NOSCRIPT No matching script");
  EXPECT_EQ(r[6].str, std::string("a\r\n\0b", 5));
  EXPECT_EQ(r[7].type, reply::kind::array);
  EXPECT_TRUE(r[7].elements.empty());
  EXPECT_TRUE(r[8].is_nil());
}

TEST(RespReaderTest, ReadsEveryKindOfReplyWhole) {
  resp_reader r;
  expect_pipeline(read_all(r, pipeline, pipeline.size()));
}

TEST(RespReaderTest, ReadsTheSameRepliesFedInAnyPieces) {
  for (std::size_t chunk : {1u, 2u, 3u, 5u, 7u, 16u}) {
    SCOPED_TRACE(chunk);
    resp_reader r;
    expect_pipeline(read_all(r, pipeline, chunk));
  }
}

TEST(RespReaderTest, ALargeArrayInSmallPiecesKeepsItsOrder) {
  std::string in = "*5000\r\n";
  for (int i = 0; i < 5000; ++i) {
    const std::string v = std::to_string(i);
    in += "$" + std::to_string(v.size()) + "\r\n" + v + "\r\n";
  }
  in += ":7\r\n";
  resp_reader r;
  const auto got = read_all(r, in, 100);
  ASSERT_EQ(got.size(), 2u);
  ASSERT_EQ(got[0].elements.size(), 5000u);
  for (int i = 0; i < 5000; ++i) EXPECT_EQ(got[0].elements[i].str, std::to_string(i));
  EXPECT_EQ(got[1].integer, 7);
}

TEST(RespReaderTest, RefusesWhatIsNotResp) {
  for (const std::string bad :
       {"?x\r\n", ":12a\r\n", "$-2\r\n", "$3\r\nabcd\r\n", "*x\r\n", "\r\n", "$99999999999\r\n"}) {
    SCOPED_TRACE(bad);
    resp_reader r;
    r.feed(bad.data(), bad.size());
    auto next = r.next();
    ASSERT_FALSE(next);
    EXPECT_NE(next.error().message.find("protocol error"), std::string::npos);
  }
  resp_reader deep;  // arrays inside arrays without end
  std::string nested;
  for (std::size_t i = 0; i <= resp_reader::max_depth; ++i) nested += "*1\r\n";
  deep.feed(nested.data(), nested.size());
  EXPECT_FALSE(deep.next());
  resp_reader endless;  // a header line that never ends
  const std::string line(70 * 1024, 'x');
  endless.feed("+", 1);
  endless.feed(line.data(), line.size());
  EXPECT_FALSE(endless.next());
}

TEST(RespReaderTest, WaitsForAnIncompleteReply) {
  resp_reader r;
  r.feed("$5\r\nab", 6);
  auto n = r.next();
  ASSERT_TRUE(n);
  EXPECT_FALSE(*n);
  r.feed("cde\r\n", 5);
  n = r.next();
  ASSERT_TRUE(n && *n);
  EXPECT_EQ((*n)->str, "abcde");
  n = r.next();
  ASSERT_TRUE(n);
  EXPECT_FALSE(*n);
}

}  // namespace
}  // namespace tresse::dispatcher::redis
