// `tresse-dispatcher deliveries list` through the program's own parser, against a real
// redis-server.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dispatcher/cli/run_cli.hpp"
#include "redis/client.hpp"
#include "retry/store.hpp"
#include "support/redis_server.hpp"

namespace tresse::dispatcher::retry {
namespace {

using namespace std::chrono_literals;

int run(std::vector<std::string> args, std::string& out) {
  auto r = test::run_cli(std::move(args));
  out = r.out;
  return r.code;
}

TEST(DeliveriesCliTest, ListsAnEndpointsAttemptsNewestFirst) {
  test::redis_server server;
  store s(std::make_shared<redis::client>(*redis::parse_url(server.url())));
  for (int n = 1; n <= 3; ++n) {
    ASSERT_TRUE(s.log_attempt({.id = "",  // derived from `at`
                               .event_id = "evt_1",
                               .event_type = "client.created",
                               .endpoint_id = "we_1",
                               .attempt = n,
                               .at = clock::time_point(1776594720s),
                               .status = n == 3 ? 200 : 0,
                               .error = n == 3 ? "" : "connect refused",
                               .latency = 12ms,
                               .response_snippet = ""})
                    .has_value());
  }
  std::string out;
  ASSERT_EQ(
      run({"deliveries", "list", "--endpoint", "we_1", "--redis", server.url(), "--limit", "2"},
          out),
      0);
  auto j = nlohmann::json::parse(out);
  ASSERT_EQ(j["data"].size(), 2u);
  EXPECT_EQ(j["data"][0]["attempt"], 3);
  EXPECT_EQ(j["data"][0]["status"], 200);
  EXPECT_EQ(j["data"][1]["status"], nullptr);
  EXPECT_EQ(j["data"][1]["error"], "connect refused");
  EXPECT_EQ(j["data"][0]["at"], "2026-04-19T10:32:00Z");
}

TEST(DeliveriesCliTest, RejectsMissingEndpointAndBadLimit) {
  std::string out;
  EXPECT_EQ(run({"deliveries", "list"}, out), 2);
  EXPECT_EQ(run({"deliveries", "list", "--endpoint", "we_1", "--limit", "0"}, out), 2);
  EXPECT_EQ(run({"deliveries", "show"}, out), 2);
}

}  // namespace
}  // namespace tresse::dispatcher::retry
