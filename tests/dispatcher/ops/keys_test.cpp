// `tresse-dispatcher keys ...` through the program's own parser, against a real redis-server.
#include "api/keys.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dispatcher/cli/run_cli.hpp"
#include "redis/client.hpp"
#include "support/redis_server.hpp"

namespace tresse::dispatcher::ops {
namespace {

using json = nlohmann::json;

class KeysCliTest : public ::testing::Test {
 protected:
  test::cli_result run(std::vector<std::string> args) {
    args.insert(args.begin(), "keys");
    args.push_back("--redis=" + server_.url());
    return test::run_cli(args);
  }

  test::redis_server server_;
};

TEST_F(KeysCliTest, CreatePrintsTheSecretOnceAndListAndRevokeFollow) {
  auto created = run({"create", "--business", "biz_1", "--mode=test"});
  ASSERT_EQ(created.code, 0) << created.err;
  auto k = json::parse(created.out);
  const std::string secret = k["secret"];
  EXPECT_TRUE(secret.starts_with("sk_test_")) << secret;
  EXPECT_TRUE(api::looks_like_business_key(secret));
  EXPECT_EQ(k["business_id"], "biz_1");
  EXPECT_EQ(k["mode"], "test");
  ASSERT_EQ(run({"create", "--business", "biz_2"}).code, 0);  // live by default

  auto listed = run({"list", "--business", "biz_1"});
  ASSERT_EQ(listed.code, 0) << listed.err;
  auto data = json::parse(listed.out)["data"];
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(data[0]["id"], k["id"]);
  EXPECT_EQ(listed.out.find(secret), std::string::npos);
  EXPECT_EQ(json::parse(run({"list"}).out)["data"].size(), 2u);

  auto revoked = run({"revoke", "--id", k["id"]});
  ASSERT_EQ(revoked.code, 0) << revoked.err;
  EXPECT_EQ(json::parse(revoked.out)["revoked"], true);
  EXPECT_EQ(json::parse(run({"list", "--business", "biz_1"}).out)["data"][0]["revoked"], true);
  EXPECT_EQ(run({"revoke", "--id", "key_nope"}).code, 1);
}

TEST_F(KeysCliTest, RefusesBadUsage) {
  EXPECT_EQ(run({"create"}).code, 2);                                           // no --business
  EXPECT_EQ(run({"create", "--business", "biz_1", "--mode", "prod"}).code, 2);  // not live|test
  EXPECT_EQ(run({"revoke"}).code, 2);                                           // no --id
  EXPECT_EQ(run({"rotate"}).code, 2);                                           // no such action
  EXPECT_EQ(run({"create", "--business", "bad id!"}).code, 1);  // the store refuses it
}

}  // namespace
}  // namespace tresse::dispatcher::ops
