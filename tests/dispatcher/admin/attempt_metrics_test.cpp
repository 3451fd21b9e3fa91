#include "admin/attempt_metrics.hpp"

#include <gtest/gtest.h>

#include <string>

namespace tresse::dispatcher {
namespace {

std::expected<http::response, http::failure> response(unsigned status) {
  http::response r;
  r.status = status;
  return r;
}

std::expected<http::response, http::failure> failure(http::failure_kind kind) {
  return std::unexpected(http::failure{kind, "x", {}});
}

TEST(AttemptMetricsTest, ClassifiesResponsesByStatusClass) {
  EXPECT_EQ(classify(response(101)), attempt_class::http_1xx);
  EXPECT_EQ(classify(response(200)), attempt_class::http_2xx);
  EXPECT_EQ(classify(response(204)), attempt_class::http_2xx);
  EXPECT_EQ(classify(response(301)), attempt_class::http_3xx);
  EXPECT_EQ(classify(response(400)), attempt_class::http_4xx);
  EXPECT_EQ(classify(response(410)), attempt_class::http_4xx);
  EXPECT_EQ(classify(response(429)), attempt_class::http_4xx);
  EXPECT_EQ(classify(response(500)), attempt_class::http_5xx);
  EXPECT_EQ(classify(response(599)), attempt_class::http_5xx);
  EXPECT_EQ(classify(response(600)), attempt_class::other);
  EXPECT_EQ(classify(response(99)), attempt_class::other);
}

TEST(AttemptMetricsTest, ClassifiesFailuresByKind) {
  using k = http::failure_kind;
  EXPECT_EQ(classify(failure(k::timeout)), attempt_class::timeout);
  EXPECT_EQ(classify(failure(k::connect)), attempt_class::connect);
  EXPECT_EQ(classify(failure(k::tls)), attempt_class::tls);
  EXPECT_EQ(classify(failure(k::dns)), attempt_class::dns);
  EXPECT_EQ(classify(failure(k::blocked_address)), attempt_class::blocked);
  for (k other : {k::protocol, k::invalid_url, k::invalid_request, k::cancelled, k::local}) {
    EXPECT_EQ(classify(failure(other)), attempt_class::other) << http::to_string(other);
  }
}

TEST(AttemptMetricsTest, RendersEveryClassFromTheStart) {
  metrics m;
  attempt_metrics attempts(m);
  std::string text = m.render();
  EXPECT_NE(text.find("# TYPE tresse_attempts_total counter\n"), std::string::npos) << text;
  for (const char* c : {"http_1xx", "http_2xx", "http_3xx", "http_4xx", "http_5xx", "timeout",
                        "connect", "tls", "dns", "blocked", "other"}) {
    EXPECT_NE(text.find(std::string("tresse_attempts_total{class=\"") + c + "\"} 0\n"),
              std::string::npos)
        << c << "\n"
        << text;
  }
  attempts.count(failure(http::failure_kind::tls));
  attempts.count(failure(http::failure_kind::tls));
  attempts.count(response(503));
  text = m.render();
  EXPECT_NE(text.find("tresse_attempts_total{class=\"tls\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("tresse_attempts_total{class=\"http_5xx\"} 1\n"), std::string::npos) << text;
  EXPECT_EQ(attempts.value(attempt_class::tls), 2u);
}

}  // namespace
}  // namespace tresse::dispatcher
