// signature_scheme end to end (DESIGN.md "Endpoint options"): v1a (Ed25519) and "v1,v1a"
// deliveries to a real HTTP sink, verified by our receiver with the whpk_ public key and by the
// openssl CLI, an implementation nobody here wrote; the private key is never shown or logged.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api_fixture.hpp"
#include "harness.hpp"
#include "support/process.hpp"
#include "tresse/receiver/key.hpp"

namespace tresse::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

const std::string kEncryptionKey(64, 'e');
constexpr const char* kOpenssl = "/usr/bin/openssl";
// The DER SubjectPublicKeyInfo of an Ed25519 key (RFC 8410) before its 32 raw bytes.
const std::string kEd25519SpkiPrefix("\x30\x2a\x30\x05\x06\x03\x2b\x65\x70\x03\x21\x00", 12);

class SignatureSchemeTest : public ApiTest {
 protected:
  std::string base64_decode(const std::string& text) {
    auto r = run_process({kOpenssl, "base64", "-d", "-A"}, text, 30s);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  void write(const std::filesystem::path& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary) << bytes;
  }

  // `openssl pkeyutl -verify -rawin` of one "v1a,<b64>" entry of `r` with a whpk_ key.
  bool openssl_verifies(const std::string& whpk, const received_request& r,
                        const std::string& entry, const std::string& body) {
    EXPECT_TRUE(entry.starts_with("v1a,")) << entry;
    write(dir_ / "pub.der", kEd25519SpkiPrefix + base64_decode(whpk.substr(5)));
    write(dir_ / "sig", base64_decode(entry.substr(4)));
    write(dir_ / "msg", r.header("webhook-id") + "." + r.header("webhook-timestamp") + "." + body);
    auto v = run_process({kOpenssl, "pkeyutl", "-verify", "-pubin", "-inkey",
                          (dir_ / "pub.der").string(), "-keyform", "DER", "-rawin", "-in",
                          (dir_ / "msg").string(), "-sigfile", (dir_ / "sig").string()},
                         {}, 30s);
    return v.exit_code == 0;
  }

  // Publishes an event until the sink sees a request that `wanted` accepts (the registry's next
  // refresh brings a change to delivery); that request.
  received_request next_delivery(recording_sink& sink,
                                 const std::function<bool(const received_request&)>& wanted) {
    received_request seen;
    EXPECT_TRUE(eventually_true([&] {
      const auto before = sink.count();
      publish({make_event("client.created", "biz_s")});
      if (!sink.wait_for_count(before + 1, 10s)) return false;
      seen = sink.requests().back();
      return wanted(seen);
    }));
    return seen;
  }
  received_request next_signed_with(recording_sink& sink, std::size_t entries) {
    return next_delivery(sink, [entries](const received_request& r) {
      return signature_entries(r.header("webhook-signature")).size() == entries;
    });
  }
};

TEST_F(SignatureSchemeTest, V1aVerifiesWithThePublicKeyAndTheOpensslCli) {
  recording_sink sink;
  auto& d = start_api({"api.allow_http=true", "registry.encryption_key=" + kEncryptionKey});
  const std::string key = create_key("biz_s", "live");
  auto created = call("POST", "/v1/webhooks", key,
                      json{{"url", sink.url()}, {"events", {"*"}}, {"signature_scheme", "v1a"}}
                          .dump());
  ASSERT_EQ(created.status, 201u) << created.raw.body;
  EXPECT_EQ(created.body["signature_scheme"], "v1a");
  const std::string public_key = created.body["public_key"];
  ASSERT_TRUE(public_key.starts_with("whpk_")) << created.raw.body;
  EXPECT_EQ(base64_decode(public_key.substr(5)).size(), 32u) << "the raw Ed25519 key";
  EXPECT_TRUE(created.body["secret"].is_null()) << "v1a alone: no whsec_ secret";
  EXPECT_EQ(created.raw.body.find("whsk_"), std::string::npos) << "never the private key";
  const std::string id = created.body["id"];
  auto got = call("GET", "/v1/webhooks/" + id, key);
  EXPECT_EQ(got.body["public_key"], public_key);
  EXPECT_EQ(call("GET", "/v1/webhooks", key).body["data"][0]["public_key"], public_key);
  const std::string record = stored_record(id);
  EXPECT_EQ(record.find("whsk_"), std::string::npos) << "sealed at rest: " << record;

  publish({make_event("client.created", "biz_s")});
  ASSERT_TRUE(sink.wait_for_count(1));
  const auto r = sink.requests()[0];
  const auto entries = signature_entries(r.header("webhook-signature"));
  ASSERT_EQ(entries.size(), 1u) << r.header("webhook-signature");
  EXPECT_TRUE(entries[0].starts_with("v1a,"));
  EXPECT_TRUE(verify(r, {public_key})) << "our receiver, with the whpk_ key";
  EXPECT_FALSE(verify(r, {receiver::generate_ed25519_keypair().public_key})) << "another key";
  EXPECT_TRUE(openssl_verifies(public_key, r, entries[0], r.body));
  EXPECT_FALSE(openssl_verifies(public_key, r, entries[0], r.body + " ")) << "a tampered body";

  // The private key appears in no response the test saw and in no log line.
  for (const auto& reply : {created, got}) {
    EXPECT_EQ(reply.raw.body.find("whsk_"), std::string::npos);
  }
  EXPECT_EQ(d.log_text().find("whsk_"), std::string::npos);
}

TEST_F(SignatureSchemeTest, SwitchingToBothVerifiesWithEitherKey) {
  recording_sink sink;
  auto& d = start_api({"api.allow_http=true", "registry.encryption_key=" + kEncryptionKey});
  const std::string key = create_key("biz_s", "live");
  auto ep = create_webhook(key, sink.url());
  EXPECT_EQ(ep["signature_scheme"], "v1");
  EXPECT_TRUE(ep["public_key"].is_null());
  const std::string secret = ep["secret"];
  const std::string path = "/v1/webhooks/" + ep["id"].get<std::string>();

  // The PATCH generates the missing key pair.
  auto both = call("PATCH", path, key, R"({"signature_scheme": "v1,v1a"})");
  ASSERT_EQ(both.status, 200u) << both.raw.body;
  EXPECT_EQ(both.body["signature_scheme"], "v1,v1a");
  const std::string public_key = both.body["public_key"];
  ASSERT_TRUE(public_key.starts_with("whpk_"));
  EXPECT_EQ(both.raw.body.find("whsk_"), std::string::npos);

  const auto r = next_signed_with(sink, 2);
  const auto entries = signature_entries(r.header("webhook-signature"));
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_TRUE(entries[0].starts_with("v1,")) << entries[0];
  EXPECT_TRUE(entries[1].starts_with("v1a,")) << entries[1];
  EXPECT_TRUE(verify(r, {secret})) << "a whsec_ verifier";
  EXPECT_TRUE(verify(r, {public_key})) << "a whpk_ verifier";
  EXPECT_TRUE(openssl_verifies(public_key, r, entries[1], r.body));

  // v1a alone keeps the same key pair; the whsec_ secret stops signing.
  auto v1a = call("PATCH", path, key, R"({"signature_scheme": "v1a"})");
  ASSERT_EQ(v1a.status, 200u) << v1a.raw.body;
  EXPECT_EQ(v1a.body["public_key"], public_key);
  const auto only = next_signed_with(sink, 1);
  EXPECT_TRUE(signature_entries(only.header("webhook-signature"))[0].starts_with("v1a,"));
  EXPECT_TRUE(verify(only, {public_key}));
  EXPECT_FALSE(verify(only, {secret}));
  EXPECT_EQ(d.log_text().find("whsk_"), std::string::npos);
}

TEST_F(SignatureSchemeTest, RotationKeepsTheOldKeySigningUntilItExpires) {
  recording_sink sink;
  start_api({"api.allow_http=true", "registry.encryption_key=" + kEncryptionKey});
  const std::string key = create_key("biz_s", "live");
  auto created = call("POST", "/v1/webhooks", key,
                      json{{"url", sink.url()}, {"events", {"*"}}, {"signature_scheme", "v1a"}}
                          .dump());
  ASSERT_EQ(created.status, 201u) << created.raw.body;
  const std::string old_key = created.body["public_key"];
  const std::string path = "/v1/webhooks/" + created.body["id"].get<std::string>();

  auto rotated = call("POST", path + "/rotate_secret", key, R"({"previous_expires_in": 3600})");
  ASSERT_EQ(rotated.status, 200u) << rotated.raw.body;
  const std::string new_key = rotated.body["public_key"];
  ASSERT_TRUE(new_key.starts_with("whpk_"));
  EXPECT_NE(new_key, old_key);
  EXPECT_TRUE(rotated.body["secret"].is_null());
  EXPECT_EQ(rotated.body["previous_secrets"], json::array()) << "the old whsk_ is not shown";
  EXPECT_EQ(rotated.raw.body.find("whsk_"), std::string::npos);

  const auto r = next_signed_with(sink, 2);
  const auto entries = signature_entries(r.header("webhook-signature"));
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_TRUE(verify(r, {new_key}));
  EXPECT_TRUE(verify(r, {old_key})) << "the old key still signs";
  EXPECT_TRUE(openssl_verifies(new_key, r, entries[0], r.body));
  EXPECT_TRUE(openssl_verifies(old_key, r, entries[1], r.body));

  // Rotated at once (previous_expires_in 0): the retired key signs no more.
  auto now = call("POST", path + "/rotate_secret", key, R"({"previous_expires_in": 0})");
  ASSERT_EQ(now.status, 200u) << now.raw.body;
  const std::string newest = now.body["public_key"];
  const auto after = next_delivery(
      sink, [&](const received_request& r) { return static_cast<bool>(verify(r, {newest})); });
  EXPECT_EQ(signature_entries(after.header("webhook-signature")).size(), 2u)
      << "the newest, and the first until its hour is up";
  EXPECT_TRUE(verify(after, {old_key}));
  EXPECT_FALSE(verify(after, {new_key}));
}

}  // namespace
}  // namespace tresse::test
