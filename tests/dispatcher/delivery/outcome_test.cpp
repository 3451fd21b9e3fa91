#include "delivery/outcome.hpp"

#include <gtest/gtest.h>

#include <boost/asio/error.hpp>

namespace tresse::dispatcher {
namespace {

using action = outcome::action;
using std::chrono::seconds;

std::expected<http::response, http::failure> status(
    unsigned s, std::vector<std::pair<std::string, std::string>> headers = {},
    std::optional<seconds> retry_after = std::nullopt) {
  http::response r;
  r.status = s;
  r.headers = std::move(headers);
  r.retry_after = retry_after;
  return r;
}

std::expected<http::response, http::failure> failed(http::failure_kind k,
                                                    boost::system::error_code code = {}) {
  return std::unexpected(http::failure{k, "x", code});
}

TEST(OutcomeTest, TwoHundredsAreDelivered) {
  for (unsigned s : {200u, 201u, 202u, 204u, 299u}) {
    const auto o = classify_attempt(status(s));
    EXPECT_EQ(o.next, action::delivered) << s;
    EXPECT_EQ(o.reason, "http_" + std::to_string(s));
    EXPECT_FALSE(o.throttle_signal);
    EXPECT_FALSE(o.retry_after);
  }
}

TEST(OutcomeTest, RedirectsAreRetriedNotFollowed) {
  for (unsigned s : {300u, 301u, 302u, 307u, 308u}) {
    const auto o = classify_attempt(status(s, {{"location", "https://elsewhere/"}}));
    EXPECT_EQ(o.next, action::retry) << s;
    EXPECT_EQ(o.reason, "redirect_3xx");
  }
}

TEST(OutcomeTest, ClientAndServerErrorsAreRetried) {
  for (unsigned s : {400u, 401u, 403u, 404u, 408u, 413u, 500u, 501u, 599u, 101u, 199u, 600u}) {
    const auto o = classify_attempt(status(s));
    EXPECT_EQ(o.next, action::retry) << s;
    EXPECT_EQ(o.reason, "http_" + std::to_string(s));
  }
}

TEST(OutcomeTest, GoneDisablesTheEndpoint) {
  const auto o = classify_attempt(status(410));
  EXPECT_EQ(o.next, action::disable_endpoint);
  EXPECT_EQ(o.reason, "http_410");
}

TEST(OutcomeTest, DisableHeaderDisablesTheEndpointWhateverTheStatus) {
  for (unsigned s : {200u, 400u, 500u}) {
    const auto o = classify_attempt(status(s, {{"webhook-delivery", " Disable "}}));
    EXPECT_EQ(o.next, action::disable_endpoint) << s;
    EXPECT_EQ(o.reason, "disable_requested");
  }
  EXPECT_EQ(classify_attempt(status(200, {{"webhook-delivery", "disabled"}})).next,
            action::delivered);
  EXPECT_EQ(classify_attempt(status(200, {{"webhook-delivery", "enable"}})).next,
            action::delivered);
}

TEST(OutcomeTest, TooManyRequestsCarriesRetryAfterAndThrottles) {
  const auto o = classify_attempt(status(429, {}, seconds(30)));
  EXPECT_EQ(o.next, action::retry);
  EXPECT_EQ(o.retry_after, seconds(30));
  EXPECT_EQ(o.reason, "http_429");
  EXPECT_TRUE(o.throttle_signal);
  EXPECT_FALSE(classify_attempt(status(429)).retry_after);
}

TEST(OutcomeTest, ServiceUnavailableCarriesRetryAfterAndThrottles) {
  const auto o = classify_attempt(status(503, {}, seconds(120)));
  EXPECT_EQ(o.next, action::retry);
  EXPECT_EQ(o.retry_after, seconds(120));
  EXPECT_TRUE(o.throttle_signal);
}

TEST(OutcomeTest, RetryAfterIsIgnoredOnOtherStatuses) {
  EXPECT_FALSE(classify_attempt(status(500, {}, seconds(5))).retry_after);
  EXPECT_FALSE(classify_attempt(status(301, {}, seconds(5))).retry_after);
  EXPECT_FALSE(classify_attempt(status(200, {}, seconds(5))).retry_after);
}

TEST(OutcomeTest, GatewayErrorsThrottleButPlainServerErrorsDoNot) {
  EXPECT_TRUE(classify_attempt(status(502)).throttle_signal);
  EXPECT_TRUE(classify_attempt(status(504)).throttle_signal);
  EXPECT_FALSE(classify_attempt(status(500)).throttle_signal);
  EXPECT_FALSE(classify_attempt(status(404)).throttle_signal);
}

TEST(OutcomeTest, TimeoutIsRetriedAndThrottles) {
  const auto o = classify_attempt(failed(http::failure_kind::timeout));
  EXPECT_EQ(o.next, action::retry);
  EXPECT_EQ(o.reason, "timeout");
  EXPECT_TRUE(o.throttle_signal);
}

TEST(OutcomeTest, ConnectionRefusedHasItsOwnReason) {
  const auto refused =
      classify_attempt(failed(http::failure_kind::connect, boost::asio::error::connection_refused));
  EXPECT_EQ(refused.next, action::retry);
  EXPECT_EQ(refused.reason, "connect_refused");
  const auto other = classify_attempt(
      failed(http::failure_kind::connect, boost::asio::error::network_unreachable));
  EXPECT_EQ(other.next, action::retry);
  EXPECT_EQ(other.reason, "connect");
  EXPECT_FALSE(other.throttle_signal);
}

TEST(OutcomeTest, EveryOtherFailureIsRetriedUnderItsKind) {
  using k = http::failure_kind;
  for (auto kind : {k::dns, k::tls, k::protocol, k::blocked_address, k::invalid_request,
                    k::cancelled}) {
    const auto o = classify_attempt(failed(kind));
    EXPECT_EQ(o.next, action::retry) << http::to_string(kind);
    EXPECT_EQ(o.reason, http::to_string(kind));
    EXPECT_FALSE(o.throttle_signal);
    EXPECT_FALSE(o.retry_after);
    EXPECT_FALSE(o.permanent) << http::to_string(kind);
  }
}

TEST(OutcomeTest, AnInvalidUrlIsPermanent) {
  const auto o = classify_attempt(failed(http::failure_kind::invalid_url));
  EXPECT_EQ(o.next, action::retry);
  EXPECT_EQ(o.reason, "invalid_url");
  EXPECT_TRUE(o.permanent) << "no retry can succeed: dead-lettered at once";
  EXPECT_FALSE(o.throttle_signal);
}

TEST(OutcomeTest, ActionsHaveStableNames) {
  EXPECT_STREQ(to_string(action::delivered), "delivered");
  EXPECT_STREQ(to_string(action::retry), "retry");
  EXPECT_STREQ(to_string(action::disable_endpoint), "disable_endpoint");
}

}  // namespace
}  // namespace tresse::dispatcher
