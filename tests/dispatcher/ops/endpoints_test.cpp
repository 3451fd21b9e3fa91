// `tresse-dispatcher endpoints ...` through the program's own parser, against a real redis-server.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "dispatcher/cli/run_cli.hpp"
#include "redis/client.hpp"
#include "registry/store.hpp"
#include "support/redis_server.hpp"

namespace tresse::dispatcher::registry {
namespace {

using json = nlohmann::json;

using test::cli_result;

class EndpointsCliTest : public ::testing::Test {
 protected:
  cli_result run(std::vector<std::string> args, bool with_redis = true) {
    args.insert(args.begin(), "endpoints");
    if (with_redis) {
      args.push_back("--redis");
      args.push_back(server_.url());
    }
    return test::run_cli(args);
  }

  json create(const std::string& business = "biz_1") {
    auto r =
        run({"create", "--business", business, "--url", "https://example.com/hook", "--events",
             "appointment.*,client.created", "--description", "main", "--encryption-key", key_});
    EXPECT_EQ(r.code, 0) << r.out;
    return json::parse(r.out);
  }

  // The endpoint as Redis holds it, read with this test's key.
  std::optional<endpoint> stored(const std::string& id) {
    auto opts = *redis::parse_url(server_.url());
    store_options so;
    so.encryption = *secret_box::from_text(key_);
    store s(std::make_shared<redis::client>(opts), std::move(so));
    auto ep = s.get(id);
    EXPECT_TRUE(ep.has_value());
    return ep ? *ep : std::nullopt;
  }

  test::redis_server server_;
  std::string key_ = std::string(64, 'a');
};

TEST_F(EndpointsCliTest, CreatePrintsTheEndpointWithItsSecret) {
  auto ep = create();
  EXPECT_TRUE(ep["id"].get<std::string>().starts_with("we_"));
  EXPECT_TRUE(ep["secret"].get<std::string>().starts_with("whsec_"));
  EXPECT_EQ(ep["business_id"], "biz_1");
  EXPECT_EQ(ep["events"], json({"appointment.*", "client.created"}));
  EXPECT_EQ(ep["description"], "main");
  EXPECT_EQ(ep["livemode"], true);
  EXPECT_EQ(ep["enabled"], true);

  // It is really in Redis, encrypted with the given key.
  auto in_redis = stored(ep["id"]);
  ASSERT_TRUE(in_redis.has_value());
  EXPECT_EQ(in_redis->secret, ep["secret"]);
}

TEST_F(EndpointsCliTest, ListAndGetNeverPrintSecrets) {
  auto a = create();
  auto b = create();
  create("biz_2");
  auto listed = run({"list", "--business", "biz_1", "--encryption-key", key_});
  ASSERT_EQ(listed.code, 0);
  auto page = json::parse(listed.out);
  ASSERT_EQ(page["data"].size(), 2u);
  EXPECT_EQ(page["data"][0]["id"], a["id"]);
  EXPECT_EQ(page["data"][1]["id"], b["id"]);
  EXPECT_EQ(page["has_more"], false);
  EXPECT_EQ(listed.out.find("whsec_"), std::string::npos);

  auto first = run({"list", "--business", "biz_1", "--limit", "1", "--encryption-key", key_});
  auto first_page = json::parse(first.out);
  EXPECT_EQ(first_page["has_more"], true);
  EXPECT_EQ(first_page["next_cursor"], a["id"]);

  auto got = run({"get", "--id", a["id"], "--encryption-key", key_});
  ASSERT_EQ(got.code, 0);
  EXPECT_EQ(json::parse(got.out)["url"], "https://example.com/hook");
  EXPECT_EQ(got.out.find("whsec_"), std::string::npos);
}

TEST_F(EndpointsCliTest, RotateSecretPrintsNewAndPreviousSecret) {
  auto ep = create();
  auto r = run({"rotate-secret", "--id", ep["id"], "--encryption-key", key_});
  ASSERT_EQ(r.code, 0) << r.out;
  auto rotated = json::parse(r.out);
  EXPECT_NE(rotated["secret"], ep["secret"]);
  ASSERT_EQ(rotated["previous_secrets"].size(), 1u);
  EXPECT_EQ(rotated["previous_secrets"][0]["secret"], ep["secret"]);
  EXPECT_TRUE(rotated["previous_secrets"][0]["expires_at"].is_string());
}

TEST_F(EndpointsCliTest, SignatureSchemePrintsThePublicKeyNeverThePrivateKey) {
  auto r = run({"create", "--business", "biz_1", "--url", "https://example.com/hook", "--events",
                "*", "--signature-scheme", "v1a", "--encryption-key", key_});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  auto ep = json::parse(r.out);
  EXPECT_EQ(ep["signature_scheme"], "v1a");
  const std::string public_key = ep["public_key"];
  EXPECT_TRUE(public_key.starts_with("whpk_")) << r.out;
  EXPECT_TRUE(ep["secret"].is_null()) << "no whsec_ secret signs for v1a alone";
  EXPECT_EQ(r.out.find("whsk_"), std::string::npos) << r.out;
  // Delivery reads the private half, sealed in Redis, whose public half is the one printed.
  auto in_redis = stored(ep["id"]);
  ASSERT_TRUE(in_redis.has_value());
  EXPECT_TRUE(in_redis->signing_key.starts_with("whsk_"));
  EXPECT_EQ(in_redis->public_key, public_key);
  EXPECT_TRUE(in_redis->secret.empty());

  // Both: the missing whsec_ secret is generated, the key pair stays.
  r = run({"update", "--id", ep["id"], "--signature-scheme", "v1,v1a", "--encryption-key", key_});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  auto both = json::parse(r.out);
  EXPECT_EQ(both["signature_scheme"], "v1,v1a");
  EXPECT_EQ(both["public_key"], public_key);
  EXPECT_TRUE(stored(ep["id"])->secret.starts_with("whsec_"));

  // Rotation rotates both kinds; the old ones still sign.
  r = run({"rotate-secret", "--id", ep["id"], "--encryption-key", key_});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  auto rotated = json::parse(r.out);
  EXPECT_TRUE(rotated["public_key"].get<std::string>().starts_with("whpk_"));
  EXPECT_NE(rotated["public_key"], public_key);
  EXPECT_EQ(r.out.find("whsk_"), std::string::npos) << r.out;
  EXPECT_EQ(rotated["previous_secrets"].size(), 1u) << "the whsec_ one; the whsk_ one is hidden";
  EXPECT_EQ(stored(ep["id"])->live_secrets(clock::now()).size(), 4u);

  EXPECT_EQ(run({"update", "--id", ep["id"], "--signature-scheme", "v2", "--encryption-key", key_})
                .code,
            2);
}

TEST_F(EndpointsCliTest, UpdateAndDelete) {
  auto ep = create();
  auto r = run({"update", "--id", ep["id"], "--enabled", "false", "--events", "client.*",
                "--encryption-key", key_});
  ASSERT_EQ(r.code, 0) << r.out;
  auto updated = json::parse(r.out);
  EXPECT_EQ(updated["enabled"], false);
  EXPECT_EQ(updated["events"], json({"client.*"}));

  EXPECT_EQ(run({"delete", "--id", ep["id"], "--encryption-key", key_}).code, 0);
  EXPECT_EQ(run({"get", "--id", ep["id"], "--encryption-key", key_}).code, 1);
  EXPECT_EQ(run({"delete", "--id", ep["id"], "--encryption-key", key_}).code, 1);
}

TEST_F(EndpointsCliTest, SetsHeadersAuthAndTimeoutWithTheSecretFromAFile) {
  const auto auth_file = std::filesystem::temp_directory_path() /
                         ("tresse-auth-" + std::to_string(::getpid()) + ".json");
  std::ofstream(auth_file) << R"({"type": "bearer", "token": "tok_from_a_file_0042"})";
  auto r = run({"create", "--business", "biz_1", "--url", "https://example.com/hook", "--events",
                "*", "--header", "X-Tenant: front desk", "--header", "X-Trace:on", "--auth-file",
                auth_file.string(), "--timeout-seconds", "3", "--encryption-key", key_});
  std::filesystem::remove(auth_file);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  auto ep = json::parse(r.out);
  EXPECT_EQ(ep["headers"], (json{{"X-Tenant", "front desk"}, {"X-Trace", "on"}}));
  EXPECT_EQ(ep["auth"], (json{{"type", "bearer"}, {"token", "\u20260042"}}));
  EXPECT_EQ(ep["timeout_seconds"], 3);
  EXPECT_EQ(r.out.find("tok_from_a_file"), std::string::npos);

  // What delivery reads: the token itself, sealed in Redis.
  auto in_redis = stored(ep["id"]);
  ASSERT_TRUE(in_redis.has_value());
  EXPECT_EQ(in_redis->auth.token, "tok_from_a_file_0042");
  EXPECT_EQ(in_redis->timeout_seconds, 3u);

  r = run({"update", "--id", ep["id"], "--no-auth", "--no-headers", "--timeout-seconds", "0",
           "--encryption-key", key_});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  auto updated = json::parse(r.out);
  EXPECT_TRUE(updated["auth"].is_null());
  EXPECT_EQ(updated["headers"], json::object());
  EXPECT_TRUE(updated["timeout_seconds"].is_null());

  // Refused as the API refuses them, naming the field; nothing changes.
  r = run({"update", "--id", ep["id"], "--header", "Host: evil.example", "--encryption-key", key_});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("field 'headers'"), std::string::npos) << r.err;
  EXPECT_EQ(run({"update", "--id", ep["id"], "--header", "no colon", "--encryption-key", key_}).code,
            1);
  EXPECT_EQ(run({"update", "--id", ep["id"], "--timeout-seconds", "31", "--encryption-key", key_})
                .code,
            2);
  auto got = json::parse(run({"get", "--id", ep["id"], "--encryption-key", key_}).out);
  EXPECT_EQ(got["headers"], json::object());
}

TEST_F(EndpointsCliTest, OrderingIsSetOnCreateAndUpdate) {
  auto r = run({"create", "--business", "biz_1", "--url", "https://example.com/hook", "--events",
                "*", "--ordering", "per_resource", "--encryption-key", key_});
  ASSERT_EQ(r.code, 0) << r.out;
  auto ep = json::parse(r.out);
  EXPECT_EQ(ep["ordering"], "per_resource");
  EXPECT_EQ(create()["ordering"], "none");  // the default
  // Only the flags given change: the ordering stays through another update.
  r = run({"update", "--id", ep["id"], "--description", "x", "--encryption-key", key_});
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(json::parse(r.out)["ordering"], "per_resource");
  r = run({"update", "--id", ep["id"], "--ordering", "none", "--encryption-key", key_});
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(json::parse(r.out)["ordering"], "none");
  EXPECT_EQ(run({"update", "--id", ep["id"], "--ordering", "fifo", "--encryption-key", key_}).code,
            2);
}

TEST_F(EndpointsCliTest, ReportsUsageAndInputErrors) {
  EXPECT_EQ(run({"explode"}).code, 2);
  EXPECT_EQ(run({"create", "--business", "biz_1"}).code, 2);
  EXPECT_EQ(run({"get"}).code, 2);
  EXPECT_EQ(run({"list", "--business", "biz_1", "--bogus", "x"}).code, 2);
  EXPECT_EQ(
      run({"create", "--business", "biz_1", "--url", "https://e.com/", "--events", "nope.nothing"})
          .code,
      1);
  // Another key cannot read what this one wrote.
  auto ep = create();
  EXPECT_EQ(run({"get", "--id", ep["id"], "--encryption-key", std::string(64, 'b')}).code, 1);
}

}  // namespace
}  // namespace tresse::dispatcher::registry
