// Endpoint options end to end (DESIGN.md "Endpoint options"): set through the Management API,
// kept in Redis (auth sealed), and seen by a real HTTP sink on every attempt.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api_fixture.hpp"
#include "harness.hpp"
#include "support/process.hpp"

namespace tresse::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kToken = "tok_live_0123456789abcdef";
constexpr const char* kPassword = "correct-horse-battery";
const std::string kEncryptionKey(64, 'e');
// The openssl CLI (Debian's openssl package; run_process takes a path, not a name).
constexpr const char* kOpenssl = "/usr/bin/openssl";

class EndpointOptionsTest : public ApiTest {
 protected:
  json create(const std::string& key, const json& body) {
    auto r = call("POST", "/v1/webhooks", key, body.dump());
    EXPECT_EQ(r.status, 201u) << r.raw.body;
    return r.body;
  }
};

TEST_F(EndpointOptionsTest, RoundTripThroughTheApiWithAuthMaskedAndSealed) {
  start_api({"api.allow_http=true", "registry.encryption_key=" + kEncryptionKey});
  const std::string key = create_key("biz_o", "live");
  auto created = call("POST", "/v1/webhooks", key,
                      json{{"url", "http://127.0.0.1:9/h"},
                           {"events", {"*"}},
                           {"headers", {{"X-Tenant", "front-desk"}, {"X-Trace", "on"}}},
                           {"auth", {{"type", "bearer"}, {"token", kToken}}},
                           {"timeout_seconds", 5}}
                          .dump());
  ASSERT_EQ(created.status, 201u) << created.raw.body;
  EXPECT_EQ(created.body["headers"], (json{{"X-Tenant", "front-desk"}, {"X-Trace", "on"}}));
  EXPECT_EQ(created.body["auth"], (json{{"type", "bearer"}, {"token", "\u2026cdef"}}));
  EXPECT_EQ(created.body["timeout_seconds"], 5);
  EXPECT_EQ(created.raw.body.find(kToken), std::string::npos) << "the token is never shown";
  const std::string id = created.body["id"];
  const std::string path = "/v1/webhooks/" + id;

  auto got = call("GET", path, key);
  ASSERT_EQ(got.status, 200u);
  for (const char* field : {"headers", "auth", "timeout_seconds"}) {
    EXPECT_EQ(got.body[field], created.body[field]) << field;
  }
  auto listed = call("GET", "/v1/webhooks", key);
  ASSERT_EQ(listed.body["data"].size(), 1u);
  EXPECT_EQ(listed.body["data"][0], got.body);
  EXPECT_EQ(listed.raw.body.find(kToken), std::string::npos);

  // Sealed at rest with the signing secrets; the headers are not secret.
  const std::string record = stored_record(id);
  EXPECT_EQ(record.find(kToken), std::string::npos) << record;
  EXPECT_NE(record.find("X-Tenant"), std::string::npos) << record;

  auto patched = call("PATCH", path, key,
                      json{{"auth", {{"type", "basic"}, {"username", "hook"}, {"password", kPassword}}},
                           {"headers", json::object()},
                           {"timeout_seconds", nullptr}}
                          .dump());
  ASSERT_EQ(patched.status, 200u) << patched.raw.body;
  EXPECT_EQ(patched.body["auth"],
            (json{{"type", "basic"}, {"username", "hook"}, {"password", "\u2026tery"}}));
  EXPECT_EQ(patched.body["headers"], json::object());
  EXPECT_TRUE(patched.body["timeout_seconds"].is_null());
  EXPECT_EQ(stored_record(id).find(kPassword), std::string::npos);

  // A short secret shows nothing of itself.
  patched = call("PATCH", path, key, json{{"auth", {{"type", "bearer"}, {"token", "short"}}}}.dump());
  ASSERT_EQ(patched.status, 200u) << patched.raw.body;
  EXPECT_EQ(patched.body["auth"], (json{{"type", "bearer"}, {"token", "\u2026"}}));

  patched = call("PATCH", path, key, R"({"auth": null})");
  ASSERT_EQ(patched.status, 200u) << patched.raw.body;
  EXPECT_TRUE(patched.body["auth"].is_null());
  EXPECT_EQ(call("GET", path, key).body, patched.body);
}

TEST_F(EndpointOptionsTest, BadOptionsAreRefusedNamingTheFieldAndChangeNothing) {
  start_api({"api.allow_http=true"});
  const std::string key = create_key("biz_o", "live");
  json many = json::object();
  for (int i = 0; i < 21; ++i) many["X-H" + std::to_string(i)] = "v";
  const std::string big(4097, 'v');
  const std::vector<std::pair<json, std::string>> bad = {
      {{{"headers", many}}, "headers"},
      {{{"headers", {{"X-Big", big}}}}, "headers"},
      {{{"headers", {{"Webhook-Id", "x"}}}}, "headers"},
      {{{"headers", {{"tresse-event-type", "x"}}}}, "headers"},
      {{{"headers", {{"Authorization", "Bearer x"}}}}, "auth"},
      {{{"headers", {{"Host", "example.com"}}}}, "headers"},
      {{{"headers", {{"Content-Type", "text/plain"}}}}, "headers"},
      {{{"headers", {{"Content-Length", "1"}}}}, "headers"},
      {{{"headers", {{"User-Agent", "me"}}}}, "headers"},
      {{{"headers", {{"Transfer-Encoding", "chunked"}}}}, "headers"},
      {{{"headers", {{"Connection", "close"}}}}, "headers"},
      {{{"headers", {{"Upgrade", "h2c"}}}}, "headers"},
      {{{"headers", {{"Bad Name", "x"}}}}, "headers"},
      {{{"headers", {{"X-Split", "a\r\nX-Injected: 1"}}}}, "headers"},
      {{{"headers", {{"X-A", "1"}, {"x-a", "2"}}}}, "headers"},
      {{{"headers", {{"X-Num", 1}}}}, "headers"},
      {{{"headers", json::array()}}, "headers"},
      {{{"auth", {{"type", "oauth2"}}}}, "auth"},
      {{{"auth", {{"type", "bearer"}, {"token", ""}}}}, "auth"},
      {{{"auth", {{"type", "bearer"}, {"token", "has space"}}}}, "auth"},
      {{{"auth", {{"type", "bearer"}, {"token", "t"}, {"extra", 1}}}}, "auth"},
      {{{"auth", {{"type", "basic"}, {"username", "a:b"}, {"password", "p"}}}}, "auth"},
      {{{"auth", {{"type", "basic"}, {"username", "a"}}}}, "auth"},
      {{{"auth", "Bearer x"}}, "auth"},
      {{{"timeout_seconds", 0}}, "timeout_seconds"},
      {{{"timeout_seconds", 31}}, "timeout_seconds"},
      {{{"timeout_seconds", "5"}}, "timeout_seconds"},
      {{{"timeout_seconds", 2.5}}, "timeout_seconds"},
      {{{"signature_scheme", "v2"}}, "signature_scheme"},
      {{{"signature_scheme", "v1a,v1"}}, "signature_scheme"},
      {{{"signature_scheme", nullptr}}, "signature_scheme"},
  };
  for (const auto& [fields, named] : bad) {
    json body = {{"url", "http://127.0.0.1:9/h"}, {"events", {"*"}}};
    body.update(fields);
    SCOPED_TRACE(body.dump());
    expect_error(call("POST", "/v1/webhooks", key, body.dump()), 400, "invalid_request",
                 "'" + named + "'");
  }
  EXPECT_TRUE(call("GET", "/v1/webhooks", key).body["data"].empty());

  auto ep = create(key, {{"url", "http://127.0.0.1:9/h"},
                         {"events", {"*"}},
                         {"headers", {{"X-Keep", "1"}}},
                         {"timeout_seconds", 7}});
  const std::string path = "/v1/webhooks/" + ep["id"].get<std::string>();
  for (const auto& [fields, named] : bad) {
    SCOPED_TRACE(fields.dump());
    expect_error(call("PATCH", path, key, fields.dump()), 400, "invalid_request", "'" + named + "'");
  }
  json unchanged = ep;
  unchanged.erase("secret");
  unchanged.erase("previous_secrets");
  auto now = call("GET", path, key).body;
  now.erase("health");  // live state of its deliveries, not a field a PATCH sets
  EXPECT_EQ(now, unchanged);
  EXPECT_EQ(unchanged["headers"], (json{{"X-Keep", "1"}}));
  EXPECT_EQ(unchanged["timeout_seconds"], 7);
}

TEST_F(EndpointOptionsTest, SinkSeesHeadersAndAuthOnEveryAttempt) {
  // The first attempt of each event fails, so every event is seen twice.
  recording_sink sink([](const received_request& r) {
    return sink_reply{.status = r.attempt == 1 ? 500u : 200u};
  });
  auto& d = start_api({"api.allow_http=true", "registry.encryption_key=" + kEncryptionKey});
  const std::string key = create_key("biz_o", "live");
  auto ep = create(key, {{"url", sink.url()},
                         {"events", {"*"}},
                         {"headers", {{"X-Tenant", "front-desk"}, {"x-api-version", "2026-04"}}},
                         {"auth", {{"type", "bearer"}, {"token", kToken}}}});
  const std::string id = ep["id"];
  publish({make_event("client.created", "biz_o")});
  ASSERT_TRUE(sink.wait_for_count(2));
  for (const auto& r : sink.requests()) {
    SCOPED_TRACE("attempt " + std::to_string(r.attempt));
    EXPECT_EQ(r.header("x-tenant"), "front-desk");
    EXPECT_EQ(r.header("x-api-version"), "2026-04");
    EXPECT_EQ(r.header("authorization"), std::string("Bearer ") + kToken);
    EXPECT_TRUE(verify(r, {ep["secret"]})) << "the signature is unchanged";
    EXPECT_EQ(r.header("content-type"), "application/json");
  }

  // A change reaches delivery with the registry's next refresh.
  auto patched = call("PATCH", "/v1/webhooks/" + id, key,
                      json{{"auth", {{"type", "basic"}, {"username", "hook"}, {"password", kPassword}}},
                           {"headers", {{"X-Tenant", "back-office"}}}}
                          .dump());
  ASSERT_EQ(patched.status, 200u) << patched.raw.body;
  ASSERT_TRUE(eventually_true([&] {
    const auto before = sink.count();
    publish({make_event("client.updated", "biz_o")});
    return sink.wait_for_count(before + 2, 10s) &&
           sink.requests().back().header("x-tenant") == "back-office";
  }));
  const auto last = sink.requests().back();
  // base64("hook:correct-horse-battery")
  EXPECT_EQ(last.header("authorization"), "Basic aG9vazpjb3JyZWN0LWhvcnNlLWJhdHRlcnk=");
  EXPECT_EQ(last.header("x-api-version"), "") << "PATCH replaces the headers";

  // Never logged.
  const std::string log = d.log_text();
  EXPECT_EQ(log.find(kToken), std::string::npos);
  EXPECT_EQ(log.find(kPassword), std::string::npos);
  EXPECT_EQ(log.find("aG9vazpjb3JyZWN0LWhvcnNlLWJhdHRlcnk="), std::string::npos);
}

TEST_F(EndpointOptionsTest, TimeoutSecondsEndsASlowAttemptSooner) {
  // Slow by design: 4 s for the first attempt, at once after.
  recording_sink sink([](const received_request& r) {
    return sink_reply{.status = 200, .delay = r.attempt == 1 ? 4000ms : 0ms};
  });
  start_api({"api.allow_http=true", "delivery.timeout=20s"});
  const std::string key = create_key("biz_o", "live");
  auto ep = create(key, {{"url", sink.url()}, {"events", {"*"}}, {"timeout_seconds", 1}});
  publish({make_event("client.created", "biz_o")});
  ASSERT_TRUE(sink.wait_for_delivered(1));
  json first;
  ASSERT_TRUE(eventually_true([&] {
    auto all = attempts(ep["id"]);
    for (const auto& a : all) {
      if (a["attempt"] == 1) first = a;
    }
    return !first.is_null();
  }));
  SCOPED_TRACE(first.dump());
  EXPECT_FALSE(first["succeeded"].get<bool>());
  EXPECT_NE(first["error"].get<std::string>().find("timeout"), std::string::npos);
}

TEST_F(EndpointOptionsTest, ClientCertificateIsSealedAndShownWithItsExpiry) {
  // A key pair and a self-signed certificate from the openssl CLI, as an operator makes them.
  const auto cert_file = dir_ / "client.pem";
  const auto key_file = dir_ / "client.key";
  auto made = run_process({kOpenssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                           "ec_paramgen_curve:P-256", "-nodes", "-keyout", key_file.string(),
                           "-out", cert_file.string(), "-days", "30", "-subj", "/CN=crm-client"},
                          {}, 30s);
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto slurp = [](const std::filesystem::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string cert = slurp(cert_file), key_pem = slurp(key_file);
  const std::string key_body = key_pem.substr(key_pem.find('\n') + 1, 40);

  start_api({"api.allow_http=true", "registry.encryption_key=" + kEncryptionKey});
  const std::string key = create_key("biz_o", "live");
  auto created = call("POST", "/v1/webhooks", key,
                      json{{"url", "https://127.0.0.1:9/h"},
                           {"events", {"*"}},
                           {"tls_client_certificate", {{"certificate", cert}, {"private_key", key_pem}}}}
                          .dump());
  ASSERT_EQ(created.status, 201u) << created.raw.body;
  const auto& shown = created.body["tls_client_certificate"];
  EXPECT_EQ(shown["subject"], "CN=crm-client");
  EXPECT_EQ(shown["fingerprint_sha256"].get<std::string>().size(), 64u);
  const auto expires = events::parse_rfc3339(shown["expires_at"].get<std::string>());
  ASSERT_TRUE(expires.has_value());
  EXPECT_GT(*expires, std::chrono::system_clock::now() + 29 * 24h);
  EXPECT_LT(*expires, std::chrono::system_clock::now() + 31 * 24h);
  EXPECT_EQ(created.raw.body.find("PRIVATE KEY"), std::string::npos);
  const std::string id = created.body["id"];
  EXPECT_EQ(stored_record(id).find(key_body), std::string::npos) << "the key is sealed";
  EXPECT_EQ(call("GET", "/v1/webhooks/" + id, key).body["tls_client_certificate"], shown);

  // And in health, for the operator who must renew it.
  auto health = cli({"endpoints", "health", id, "--encryption-key", kEncryptionKey});
  ASSERT_EQ(health["data"].size(), 1u) << health.dump();
  EXPECT_EQ(health["data"][0]["tls_client_certificate_expires_at"], shown["expires_at"]);

  // A key of another certificate, or no PEM, is refused naming the field.
  auto other = run_process({kOpenssl, "genpkey", "-algorithm", "EC", "-pkeyopt",
                            "ec_paramgen_curve:P-256"},
                           {}, 30s);
  ASSERT_EQ(other.exit_code, 0);
  for (const json& bad : {json{{"certificate", cert}, {"private_key", other.out}},
                          json{{"certificate", "not PEM"}, {"private_key", key_pem}},
                          json{{"certificate", cert}}, json("PEM")}) {
    expect_error(call("PATCH", "/v1/webhooks/" + id, key,
                      json{{"tls_client_certificate", bad}}.dump()),
                 400, "invalid_request", "'tls_client_certificate'");
  }
  auto removed = call("PATCH", "/v1/webhooks/" + id, key, R"({"tls_client_certificate": null})");
  ASSERT_EQ(removed.status, 200u) << removed.raw.body;
  EXPECT_TRUE(removed.body["tls_client_certificate"].is_null());
}

}  // namespace
}  // namespace tresse::test
