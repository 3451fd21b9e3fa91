#include "registry/endpoint_options.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace tresse::dispatcher::registry {
namespace {

using json = nlohmann::json;

bool refused(const header_list& h) { return !validate_headers(h).has_value(); }

TEST(EndpointOptionsTest, HeadersAreBoundedAndMayNotReplaceTheDispatchersOwn) {
  EXPECT_FALSE(refused({}));
  EXPECT_FALSE(refused({{"X-Tenant", "t1"}, {"Accept-Language", "fr"}}));
  header_list twenty;
  for (int i = 0; i < 20; ++i) twenty.emplace_back("X-" + std::to_string(i), "v");
  header_list twenty_one = twenty;
  twenty_one.emplace_back("X-20", "v");
  EXPECT_FALSE(refused(twenty));
  EXPECT_TRUE(refused(twenty_one));
  EXPECT_FALSE(refused({{"X-Big", std::string(4096 - 5, 'v')}}));
  EXPECT_TRUE(refused({{"X-Big", std::string(4096 - 4, 'v')}}));
  for (const char* name :
       {"webhook-id", "Webhook-Signature", "WEBHOOK-x", "tresse-event-type", "Tresse-Sequence",
        "content-type", "Content-Length", "user-agent", "HOST", "authorization",
        "transfer-encoding", "connection", "keep-alive", "te", "trailer", "upgrade",
        "proxy-authorization", "proxy-connection"}) {
    EXPECT_TRUE(refused({{name, "x"}})) << name;
  }
  EXPECT_FALSE(refused({{"X-Webhook-Id", "x"}})) << "only the prefix is reserved";
  EXPECT_TRUE(refused({{"", "x"}}));
  EXPECT_TRUE(refused({{"Bad Name", "x"}}));
  EXPECT_TRUE(refused({{"X:Colon", "x"}}));
  EXPECT_TRUE(refused({{"X-Split", "a\r\nInjected: 1"}}));
  EXPECT_TRUE(refused({{"X-Lf", "a\nb"}}));
  EXPECT_TRUE(refused({{"X-Nul", std::string("a\0b", 3)}}));
  EXPECT_TRUE(refused({{"X-A", "1"}, {"x-a", "2"}}));
  auto e = validate_headers({{"Host", "x"}});
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("field 'headers'"), std::string::npos) << e.error().message;
  EXPECT_NE(e.error().message.find("'Host'"), std::string::npos) << e.error().message;
}

TEST(EndpointOptionsTest, HeadersFromJsonAreSortedAndRoundTrip) {
  auto h = headers_from_json(json{{"X-B", "2"}, {"X-A", "1"}});
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(*h, (header_list{{"X-A", "1"}, {"X-B", "2"}}));
  EXPECT_EQ(headers_to_json(*h), (json{{"X-A", "1"}, {"X-B", "2"}}));
  EXPECT_FALSE(headers_from_json(json::array()));
  EXPECT_FALSE(headers_from_json(json{{"X-A", 1}}));
  EXPECT_FALSE(headers_from_json(json{{"Webhook-Id", "x"}}));
}

TEST(EndpointOptionsTest, AuthIsCheckedAndShownMasked) {
  auto bearer = auth_from_json(json{{"type", "bearer"}, {"token", "tok_0123456789abcdef"}});
  ASSERT_TRUE(bearer) << bearer.error().message;
  EXPECT_EQ(bearer->type, endpoint_auth::kind::bearer);
  EXPECT_EQ(authorization_value(*bearer), "Bearer tok_0123456789abcdef");
  EXPECT_EQ(masked_auth_json(*bearer), (json{{"type", "bearer"}, {"token", "\u2026cdef"}}));
  EXPECT_EQ(auth_from_json(auth_to_json(*bearer)).value(), *bearer);

  auto basic = auth_from_json(json{{"type", "basic"}, {"username", "Aladdin"},
                                   {"password", "open sesame"}});
  ASSERT_TRUE(basic) << basic.error().message;
  // RFC 7617's example.
  EXPECT_EQ(authorization_value(*basic), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  EXPECT_EQ(masked_auth_json(*basic),
            (json{{"type", "basic"}, {"username", "Aladdin"}, {"password", "\u2026"}}))
      << "under 12 characters, nothing of it is shown";
  EXPECT_EQ(auth_from_json(auth_to_json(*basic)).value(), *basic);

  auto none = auth_from_json(nullptr);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->type, endpoint_auth::kind::none);
  EXPECT_TRUE(masked_auth_json(*none).is_null());
  EXPECT_EQ(authorization_value(*none), "");

  for (const json& bad : {json("Bearer x"), json{{"type", "oauth2"}}, json{{"token", "t"}},
                          json{{"type", "bearer"}},
                          json{{"type", "bearer"}, {"token", ""}},
                          json{{"type", "bearer"}, {"token", "a b"}},
                          json{{"type", "bearer"}, {"token", std::string(4097, 't')}},
                          json{{"type", "bearer"}, {"token", "t"}, {"username", "u"}},
                          json{{"type", "basic"}, {"username", "a:b"}, {"password", "p"}},
                          json{{"type", "basic"}, {"username", "a"}, {"password", ""}},
                          json{{"type", "basic"}, {"username", "a"}, {"password", "p\r\n"}},
                          json{{"type", "basic"}, {"username", ""}, {"password", "p"}}}) {
    auto r = auth_from_json(bad);
    ASSERT_FALSE(r) << bad.dump();
    EXPECT_NE(r.error().message.find("field 'auth'"), std::string::npos) << r.error().message;
    // The message never repeats the secret it refused.
    EXPECT_EQ(r.error().message.find("p\r\n"), std::string::npos);
  }
}

TEST(EndpointOptionsTest, TimeoutIsDefaultOrOneToThirtySeconds) {
  EXPECT_TRUE(validate_timeout(0));
  EXPECT_TRUE(validate_timeout(1));
  EXPECT_TRUE(validate_timeout(30));
  EXPECT_FALSE(validate_timeout(31));
}

}  // namespace
}  // namespace tresse::dispatcher::registry
