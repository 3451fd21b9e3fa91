#include "registry/endpoint.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace tresse::dispatcher::registry {
namespace {

using json = nlohmann::json;

endpoint sample() {
  endpoint ep;
  ep.id = "we_0VbxyYC4yG7GesjoEY37Dc";
  ep.business_id = "biz_1";
  ep.url = "https://example.com/h?x=\"1\"";
  ep.events = {"appointment.*", "client.created"};
  ep.livemode = false;
  ep.secret = "whsec_abc";
  ep.previous_secrets = {{"whsec_old", clock::time_point(std::chrono::seconds(1776594720))}};
  ep.enabled = false;
  ep.disabled_reason = "410 Gone";
  ep.description = "front desk \xe2\x80\x94 \"main\"\n\\";
  ep.rate_limit_per_second = 7;
  ep.order = ordering::per_resource;
  ep.created_at = clock::time_point(std::chrono::seconds(1776594000));
  ep.updated_at = clock::time_point(std::chrono::seconds(1776594720));
  ep.failure_count = 3;
  ep.consecutive_failures = 2;
  ep.dead_lettered = 1;
  return ep;
}

TEST(EndpointJsonTest, TextIsTheDocumentedObject) {
  json expected = {{"id", "we_0VbxyYC4yG7GesjoEY37Dc"},
                   {"object", "webhook_endpoint"},
                   {"business_id", "biz_1"},
                   {"url", "https://example.com/h?x=\"1\""},
                   {"events", {"appointment.*", "client.created"}},
                   {"livemode", false},
                   {"enabled", false},
                   {"disabled_reason", "410 Gone"},
                   {"description", "front desk \xe2\x80\x94 \"main\"\n\\"},
                   {"rate_limit_per_second", 7},
                   {"ordering", "per_resource"},
                   {"created_at", "2026-04-19T10:20:00Z"},
                   {"updated_at", "2026-04-19T10:32:00Z"},
                   {"failure_count", 3},
                   {"consecutive_failures", 2},
                   {"dead_lettered", 1},
                   {"headers", json::object()},
                   {"auth", nullptr},
                   {"tls_client_certificate", nullptr},
                   {"timeout_seconds", nullptr},
                   {"signature_scheme", "v1"},
                   {"public_key", nullptr}};
  std::string text = to_json_text(sample());
  EXPECT_EQ(json::parse(text), expected);
  EXPECT_EQ(text, expected.dump());  // same key order and spacing as a DOM would write
  EXPECT_EQ(to_json(sample()), expected);

  json with_secret = expected;
  with_secret["secret"] = "whsec_abc";
  with_secret["previous_secrets"] = {{{"secret", "whsec_old"}, {"expires_at", "2026-04-19T10:32:00Z"}}};
  EXPECT_EQ(to_json_text(sample(), true), with_secret.dump());
}

TEST(EndpointJsonTest, OptionsAreShownWithTheSecretPartMasked) {
  endpoint ep = sample();
  ep.headers = {{"X-A", "1"}, {"X-Quote", "say \"hi\""}};
  ep.auth = {.type = endpoint_auth::kind::bearer, .token = "tok_0123456789abcdef"};
  ep.timeout_seconds = 12;
  const std::string text = to_json_text(ep);
  json j = json::parse(text);
  EXPECT_EQ(text, j.dump());  // same key order and spacing as a DOM would write
  EXPECT_EQ(j["headers"], (json{{"X-A", "1"}, {"X-Quote", "say \"hi\""}}));
  EXPECT_EQ(j["auth"], (json{{"type", "bearer"}, {"token", "\u2026cdef"}}));
  EXPECT_EQ(j["timeout_seconds"], 12);
  EXPECT_EQ(text.find("tok_0123456789abcdef"), std::string::npos);
  EXPECT_EQ(to_json_text(ep, true).find("tok_0123456789abcdef"), std::string::npos);
}

TEST(EndpointJsonTest, NullDisabledReasonAndEmptyLists) {
  endpoint ep = sample();
  ep.disabled_reason.clear();
  ep.previous_secrets.clear();
  auto j = json::parse(to_json_text(ep, true));
  EXPECT_TRUE(j["disabled_reason"].is_null());
  EXPECT_EQ(j["previous_secrets"], json::array());
}

TEST(EndpointJsonTest, V1aShowsThePublicKeyAndNeverThePrivateKey) {
  endpoint ep = sample();
  ep.scheme = signature_scheme::v1a;
  ep.signing_key = "whsk_private";
  ep.public_key = "whpk_public";
  ep.previous_secrets.push_back({"whsk_old_private", clock::time_point::max()});
  for (bool with_secret : {false, true}) {
    const std::string text = to_json_text(ep, with_secret);
    json j = json::parse(text);
    EXPECT_EQ(text, j.dump());  // same key order and spacing as a DOM would write
    EXPECT_EQ(j["signature_scheme"], "v1a");
    EXPECT_EQ(j["public_key"], "whpk_public");
    EXPECT_EQ(text.find("whsk_"), std::string::npos) << text;
    if (with_secret) {
      EXPECT_TRUE(j["secret"].is_null()) << "v1a alone: no whsec_ secret signs";
      EXPECT_EQ(j["previous_secrets"].size(), 1u) << "only the whsec_ one";
    }
  }
  ep.scheme = signature_scheme::v1_and_v1a;
  auto both = json::parse(to_json_text(ep, true));
  EXPECT_EQ(both["signature_scheme"], "v1,v1a");
  EXPECT_EQ(both["secret"], "whsec_abc");
  EXPECT_EQ(both["public_key"], "whpk_public");
  ep.scheme = signature_scheme::v1;
  EXPECT_TRUE(json::parse(to_json_text(ep))["public_key"].is_null()) << "a key that signs nothing";
}

TEST(EndpointTest, LiveSecretsAreTheKindsTheSchemeSignsWith) {
  endpoint ep = sample();
  const auto now = clock::time_point(std::chrono::seconds(1776594000));
  const auto later = now + std::chrono::hours(1);
  ep.signing_key = "whsk_new";
  ep.previous_secrets = {{"whsec_old", later}, {"whsk_old", later}, {"whsk_gone", now}};
  EXPECT_EQ(ep.live_secrets(now), (std::vector<std::string>{"whsec_abc", "whsec_old"}));
  ep.scheme = signature_scheme::v1a;
  EXPECT_EQ(ep.live_secrets(now), (std::vector<std::string>{"whsk_new", "whsk_old"}));
  ep.scheme = signature_scheme::v1_and_v1a;
  EXPECT_EQ(ep.live_secrets(now),
            (std::vector<std::string>{"whsec_abc", "whsk_new", "whsec_old", "whsk_old"}));
  EXPECT_EQ(ep.live_secrets(later), (std::vector<std::string>{"whsec_abc", "whsk_new"}));
}

TEST(EndpointJsonTest, SignatureSchemeParsesOnlyItsThreeValues) {
  EXPECT_EQ(parse_signature_scheme("v1"), signature_scheme::v1);
  EXPECT_EQ(parse_signature_scheme("v1a"), signature_scheme::v1a);
  EXPECT_EQ(parse_signature_scheme("v1,v1a"), signature_scheme::v1_and_v1a);
  for (const char* bad : {"", "V1", "v1a,v1", "v1, v1a", "v2"}) {
    EXPECT_EQ(parse_signature_scheme(bad), std::nullopt) << bad;
  }
  for (auto s : {signature_scheme::v1, signature_scheme::v1a, signature_scheme::v1_and_v1a}) {
    EXPECT_EQ(parse_signature_scheme(to_string(s)), s);
  }
}

TEST(EndpointJsonTest, OrderingParsesOnlyItsTwoValues) {
  EXPECT_EQ(parse_ordering("none"), ordering::none);
  EXPECT_EQ(parse_ordering("per_resource"), ordering::per_resource);
  EXPECT_EQ(parse_ordering("Per_Resource"), std::nullopt);
  EXPECT_EQ(parse_ordering(""), std::nullopt);
  EXPECT_EQ(to_string(ordering::none), "none");
  EXPECT_EQ(json::parse(to_json_text(endpoint{}))["ordering"], "none");
}

}  // namespace
}  // namespace tresse::dispatcher::registry
