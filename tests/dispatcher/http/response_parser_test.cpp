#include "http/response_parser.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>

namespace tresse::dispatcher::http {
namespace {

// Feeds `wire` in pieces of `step` bytes, as reads would, keeping the unconsumed bytes the
// way the client does; `closed` ends with the peer's close. Returns the bytes left over.
std::string feed(response_parser& p, std::string_view wire, std::size_t step, bool closed = false) {
  std::string pending;
  for (std::size_t at = 0; at < wire.size() && p.wants_more(); at += step) {
    pending.append(wire.substr(at, step));
    pending.erase(0, p.parse(pending));
  }
  if (p.wants_more()) pending.erase(0, p.parse(pending));
  if (closed && p.wants_more()) p.end_of_stream();
  return pending;
}

struct parsed {
  bool head = false;
  bool complete = false;
  bool reusable = false;
  bool failed = false;
  std::string error;
  response r;
  std::string left;
};

parsed parse_all(std::string_view wire, std::size_t step, bool closed = false,
                 std::size_t max_header = 1024, std::size_t max_body = 64) {
  response_parser p(max_header, max_body);
  parsed out;
  out.left = feed(p, wire, step, closed);
  out.head = p.head_complete();
  out.complete = p.complete();
  out.reusable = p.reusable();
  out.failed = p.failed();
  out.error = p.error();
  if (out.head) out.r = p.take();
  return out;
}

// Every case is parsed whole and byte by byte: the framing must not depend on how reads split.
class ResponseParserTest : public ::testing::TestWithParam<std::size_t> {};
INSTANTIATE_TEST_SUITE_P(ReadSizes, ResponseParserTest, ::testing::Values(1, 3, 4096));

TEST_P(ResponseParserTest, ReadsAContentLengthBodyAndKeepsTheConnection) {
  auto p = parse_all("HTTP/1.1 202 Accepted\r\nContent-Type: text/plain\r\nX-Other: 1\r\n"
                     "Content-Length: 5\r\n\r\nhello",
                     GetParam());
  ASSERT_TRUE(p.complete) << p.error;
  EXPECT_EQ(p.r.status, 202u);
  EXPECT_EQ(p.r.body_snippet, "hello");
  EXPECT_FALSE(p.r.body_truncated);
  EXPECT_EQ(p.r.header("content-type"), "text/plain");
  EXPECT_EQ(p.r.header("x-other"), "");  // only kept headers are kept
  EXPECT_TRUE(p.reusable);
  EXPECT_EQ(p.left, "");
}

TEST_P(ResponseParserTest, DecodesChunkedBodiesWithExtensionsAndTrailers) {
  auto p = parse_all("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, CHUNKED\r\n\r\n"
                     "5;name=value\r\nhello\r\n1\r\n!\r\n0\r\nX-Trailer: t\r\n\r\n",
                     GetParam());
  ASSERT_TRUE(p.complete) << p.error;
  EXPECT_EQ(p.r.body_snippet, "hello!");
  EXPECT_TRUE(p.reusable);
}

TEST_P(ResponseParserTest, ABodyToTheCloseEndsWithTheCloseAndIsNotReusable) {
  auto p = parse_all("HTTP/1.1 200 OK\r\n\r\nall of it", GetParam(), /*closed=*/true);
  ASSERT_TRUE(p.complete) << p.error;
  EXPECT_EQ(p.r.body_snippet, "all of it");
  EXPECT_FALSE(p.r.body_truncated);
  EXPECT_FALSE(p.reusable);
}

TEST_P(ResponseParserTest, StatusesWithoutABodyAreCompleteAtTheHead) {
  for (std::string_view wire : {"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n",
                                "HTTP/1.1 304 Not Modified\r\n\r\n"}) {
    auto p = parse_all(wire, GetParam());
    ASSERT_TRUE(p.complete) << wire;
    EXPECT_TRUE(p.reusable) << wire;
    EXPECT_EQ(p.r.body_snippet, "");
  }
}

TEST_P(ResponseParserTest, CapsTheBodyAndLeavesTheRestUnread) {
  const std::string body(100, 'x');
  auto p = parse_all("HTTP/1.1 500 Oops\r\nContent-Length: 100\r\n\r\n" + body, GetParam(),
                     false, 1024, /*max_body=*/10);
  ASSERT_TRUE(p.head);
  EXPECT_FALSE(p.complete);
  EXPECT_EQ(p.r.body_snippet, std::string(10, 'x'));
  EXPECT_TRUE(p.r.body_truncated);
  EXPECT_FALSE(p.reusable);
}

TEST_P(ResponseParserTest, ABodyOfExactlyTheCapIsComplete) {
  auto p = parse_all("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd", GetParam(), false, 1024, 4);
  EXPECT_TRUE(p.complete);
  EXPECT_TRUE(p.reusable);
  EXPECT_FALSE(p.r.body_truncated);
}

TEST_P(ResponseParserTest, ConnectionCloseAndHttp10DecideReuse) {
  EXPECT_FALSE(parse_all("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                         GetParam())
                   .reusable);
  EXPECT_FALSE(parse_all("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", GetParam()).reusable);
  EXPECT_TRUE(parse_all("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n",
                        GetParam())
                  .reusable);
}

TEST_P(ResponseParserTest, BytesAfterTheResponseAreLeftOver) {
  auto p = parse_all("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1", 4096);
  EXPECT_TRUE(p.complete);
  EXPECT_EQ(p.left, "HTTP/1.1");  // the client then drops the connection
}

TEST_P(ResponseParserTest, AnInterimResponseIsAHeadOfItsOwn) {
  response_parser p(1024, 64);
  const std::string wire = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  const auto used = p.parse(wire);
  ASSERT_TRUE(p.interim());
  EXPECT_EQ(p.status(), 100u);
  response_parser next(1024, 64);
  next.parse(std::string_view(wire).substr(used));
  EXPECT_TRUE(next.complete());
  EXPECT_EQ(next.status(), 200u);
  EXPECT_FALSE(next.interim());
}

TEST_P(ResponseParserTest, KeepsAtMost256BytesOfAKeptHeaderValue) {
  auto p = parse_all("HTTP/1.1 410 Gone\r\nLocation: " + std::string(300, 'l') +
                         "\r\nContent-Length: 0\r\n\r\n",
                     GetParam());
  ASSERT_TRUE(p.complete);
  EXPECT_EQ(p.r.header("location"), std::string(256, 'l'));
}

TEST_P(ResponseParserTest, FailsOnAHeadLargerThanTheLimit) {
  auto p = parse_all("HTTP/1.1 200 OK\r\nX-Big: " + std::string(2000, 'b') + "\r\n\r\n",
                     GetParam());
  EXPECT_TRUE(p.failed);
  EXPECT_FALSE(p.head);
  EXPECT_EQ(p.error, "response header larger than 1024 bytes");
}

TEST_P(ResponseParserTest, FailsOnMalformedHeads) {
  for (std::string wire : std::initializer_list<std::string>{
           "HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 200OK\r\n\r\n",
           "SMTP ready\r\n\r\n", "HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
           "HTTP/1.1 200 OK\r\nBad name: v\r\n\r\n", "HTTP/1.1 200 OK\r\nA: 1\r\n folded\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
           std::string("HTTP/1.1 200 OK\r\nA: x\0y\r\n\r\n", 27)}) {
    auto p = parse_all(wire, GetParam());
    EXPECT_TRUE(p.failed) << wire;
    EXPECT_FALSE(p.head) << wire;
    EXPECT_FALSE(p.error.empty()) << wire;
  }
}

TEST_P(ResponseParserTest, AMalformedChunkKeepsTheStatusButNotTheConnection) {
  for (std::string_view wire : {"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                                "HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd"}) {
    auto p = parse_all(wire, GetParam());
    ASSERT_TRUE(p.head) << wire;
    EXPECT_TRUE(p.failed) << wire;
    EXPECT_EQ(p.r.status, 503u);
    EXPECT_TRUE(p.r.body_truncated);
    EXPECT_FALSE(p.reusable);
  }
}

TEST_P(ResponseParserTest, BothFramingsAtOnceIsChunkedButNeverReused) {
  auto p = parse_all("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "2\r\nok\r\n0\r\n\r\n",
                     GetParam());
  ASSERT_TRUE(p.complete) << p.error;
  EXPECT_EQ(p.r.body_snippet, "ok");
  EXPECT_FALSE(p.reusable);
}

TEST_P(ResponseParserTest, ACloseBeforeTheEndFailsOrTruncates) {
  auto head = parse_all("HTTP/1.1 200 OK\r\nContent-", GetParam(), /*closed=*/true);
  EXPECT_TRUE(head.failed);
  EXPECT_FALSE(head.head);

  auto body = parse_all("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", GetParam(), true);
  ASSERT_TRUE(body.head);
  EXPECT_FALSE(body.complete);
  EXPECT_EQ(body.r.body_snippet, "abc");
  EXPECT_TRUE(body.r.body_truncated);
  EXPECT_FALSE(body.reusable);
}

TEST_P(ResponseParserTest, BoundsTrailersAndChunkSizeLines) {
  auto trailers = parse_all("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: " +
                                std::string(2000, 't') + "\r\n\r\n",
                            GetParam());
  EXPECT_TRUE(trailers.failed);
  auto size_line = parse_all("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" +
                                 std::string(2000, 'e') + "\r\n",
                             GetParam());
  EXPECT_TRUE(size_line.failed);
}

}  // namespace
}  // namespace tresse::dispatcher::http
