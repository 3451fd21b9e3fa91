#include "http/retry_after.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace tresse::dispatcher::http {
namespace {

using std::chrono::seconds;

// 1994-11-06T08:49:37Z, the RFC's own example date.
const auto kRfcDate = std::chrono::system_clock::time_point(seconds(784111777));

TEST(RetryAfterTest, ParsesDeltaSeconds) {
  EXPECT_EQ(parse_retry_after("120", kRfcDate), seconds(120));
  EXPECT_EQ(parse_retry_after("0", kRfcDate), seconds(0));
  EXPECT_EQ(parse_retry_after("  7 ", kRfcDate), seconds(7));
}

TEST(RetryAfterTest, ClampsHugeDeltas) {
  EXPECT_EQ(parse_retry_after("99999999999999999999999", kRfcDate), max_retry_after);
  EXPECT_EQ(parse_retry_after("31536001", kRfcDate), max_retry_after);
}

TEST(RetryAfterTest, ParsesAllThreeHttpDateForms) {
  const auto now = kRfcDate - seconds(90);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), seconds(90));
  EXPECT_EQ(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now), seconds(90));
  EXPECT_EQ(parse_retry_after("Sun Nov  6 08:49:37 1994", now), seconds(90));
}

TEST(RetryAfterTest, RoundsSubSecondRemaindersUp) {
  const auto now = kRfcDate - std::chrono::milliseconds(1500);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), seconds(2));
}

TEST(RetryAfterTest, DateInThePastMeansNow) {
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", kRfcDate + seconds(3600)),
            seconds(0));
}

TEST(RetryAfterTest, RejectsGarbage) {
  for (const char* bad : {"", "soon", "-5", "1.5", "12abc", "0x10", "Sun, 06 Nov 1994 08:49:37",
                          "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
                          "Sun, 06 Nov 1994 25:49:37 GMT", "Sun, 06 Nov 199 08:49:37 GMT",
                          "Sun, 06 Nov 1994 8:49:37 GMT"}) {
    EXPECT_FALSE(parse_retry_after(bad, kRfcDate)) << bad;
  }
}

}  // namespace
}  // namespace tresse::dispatcher::http
