// `tresse-dispatcher endpoints ...` through the program's own parser, against a real redis-server.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
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
  auto opts = *redis::parse_url(server_.url());
  store_options so;
  so.encryption = *secret_box::from_text(key_);
  store s(std::make_shared<redis::client>(opts), std::move(so));
  auto stored = s.get(ep["id"].get<std::string>());
  ASSERT_TRUE(stored.has_value() && stored->has_value());
  EXPECT_EQ((*stored)->secret, ep["secret"]);
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
