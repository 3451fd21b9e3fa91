#include "tresse/receiver/beast.hpp"

#include <gtest/gtest.h>

#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/vector_body.hpp>

#include "test_vectors.hpp"

namespace tresse::receiver {
namespace {

using namespace test;
namespace http = boost::beast::http;

verifier make() {
  std::error_code ec;
  verifier_options options;
  options.clock = [] {
    return std::chrono::system_clock::time_point(std::chrono::seconds(kTimestamp));
  };
  return verifier({key::parse(kSecret, ec)}, options);
}

TEST(BeastTest, VerifiesStringBodyRequest) {
  http::request<http::string_body> req{http::verb::post, "/hooks", 11};
  req.set("Webhook-Id", kId);
  req.set("WEBHOOK-TIMESTAMP", kTimestampText);
  req.set("webhook-signature", kSignature);
  req.body() = kBody;
  const verification r = verify(make(), req);
  EXPECT_TRUE(r) << r.message;
  EXPECT_EQ(r.id, kId);

  req.body() += " ";
  EXPECT_EQ(verify(make(), req).code(), errc::no_matching_signature);
}

TEST(BeastTest, VerifiesVectorBodyRequest) {
  http::request<http::vector_body<unsigned char>> req{http::verb::post, "/hooks", 11};
  req.set("webhook-id", kId);
  req.set("webhook-timestamp", kTimestampText);
  req.set("webhook-signature", kSignature);
  req.body().assign(kBody.begin(), kBody.end());
  EXPECT_TRUE(verify(make(), req));
}

TEST(BeastTest, ReportsMissingHeader) {
  http::request<http::string_body> req{http::verb::post, "/hooks", 11};
  req.set("webhook-id", kId);
  req.set("webhook-signature", kSignature);
  req.body() = kBody;
  const verification r = verify(make(), req);
  EXPECT_EQ(r.code(), errc::missing_header);
  EXPECT_NE(r.message.find("webhook-timestamp"), std::string::npos);
}

}  // namespace
}  // namespace tresse::receiver
