#include "api/request_metrics.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "api/openapi_document.hpp"

namespace tresse::dispatcher::api {
namespace {

TEST(RouteTableTest, MatchesEveryPathOfTheOpenApiDocumentByItsTemplate) {
  const route_table routes(openapi_document());
  ASSERT_GE(routes.size(), 11u);
  const std::pair<std::string, std::string> cases[] = {
      {"/v1/webhooks", "/v1/webhooks"},
      {"/v1/webhooks?limit=2&cursor=abc", "/v1/webhooks"},
      {"/v1/webhooks/we_123", "/v1/webhooks/{id}"},
      {"/v1/webhooks/we_123/rotate_secret", "/v1/webhooks/{id}/rotate_secret"},
      {"/v1/webhooks/we_123/test", "/v1/webhooks/{id}/test"},
      {"/v1/webhooks/we_123/replay", "/v1/webhooks/{id}/replay"},
      {"/v1/webhooks/we_123/deliveries?status=failed", "/v1/webhooks/{id}/deliveries"},
      {"/v1/webhooks/we_1/deliveries/evt_2", "/v1/webhooks/{id}/deliveries/{event_id}"},
      {"/v1/webhooks/we_1/deliveries/evt_2/retry", "/v1/webhooks/{id}/deliveries/{event_id}/retry"},
      {"/v1/replays/rpl_9", "/v1/replays/{id}"},
      {"/v1/event_types", "/v1/event_types"},
      {"/v1/openapi.json", "/v1/openapi.json"},
  };
  for (const auto& [path, route] : cases) {
    EXPECT_EQ(routes.name(routes.match(path)), route) << path;
  }
}

TEST(RouteTableTest, LeavesOtherPathsUnmatched) {
  const route_table routes(openapi_document());
  for (const char* path : {"/", "", "/v1", "/v1/", "/v1/webhooks/", "/v1/webhooks//test",
                           "/v2/webhooks", "/v1/webhooks/we_1/nope", "/v1/webhooks/a/b/c/d/e/f",
                           "/.env", "/console/", "v1/webhooks"}) {
    EXPECT_EQ(routes.match(path), routes.size()) << path;
    EXPECT_EQ(routes.name(routes.match(path)), "unmatched") << path;
  }
}

TEST(RouteTableTest, PrefersTheTemplateWithMoreLiteralSegments) {
  const route_table routes(R"({"paths": {"/v1/things/{id}": {}, "/v1/things/special": {}}})");
  EXPECT_EQ(routes.name(routes.match("/v1/things/special")), "/v1/things/special");
  EXPECT_EQ(routes.name(routes.match("/v1/things/th_1")), "/v1/things/{id}");
}

TEST(RouteTableTest, RefusesADocumentWithoutPaths) {
  EXPECT_THROW(route_table("not json"), std::invalid_argument);
  EXPECT_THROW(route_table(R"({"openapi": "3.1.0"})"), std::invalid_argument);
}

TEST(RequestMetricsTest, CountsByRouteTemplateMethodAndStatus) {
  metrics m;
  request_metrics counts(m, route_table(openapi_document()));
  counts.count("GET", "/v1/webhooks/we_1", 200);
  counts.count("GET", "/v1/webhooks/we_2?x=1", 200);
  counts.count("PATCH", "/v1/webhooks/we_2", 400);
  counts.count("POST", "/v1/webhooks/we_3/deliveries/evt_1/retry", 202);
  counts.count("GET", "/wp-admin/setup.php", 404);
  counts.count("BREW", "/v1/webhooks", 405);
  counts.count("GET", "/v1/webhooks", 999);
  const std::string text = m.render();
  EXPECT_NE(text.find("# TYPE tresse_api_requests_total counter\n"), std::string::npos) << text;
  for (
      const char* line :
      {R"(tresse_api_requests_total{route="/v1/webhooks/{id}",method="GET",status="200"} 2)",
       R"(tresse_api_requests_total{route="/v1/webhooks/{id}",method="PATCH",status="400"} 1)",
       R"(tresse_api_requests_total{route="/v1/webhooks/{id}/deliveries/{event_id}/retry",method="POST",status="202"} 1)",
       R"(tresse_api_requests_total{route="unmatched",method="GET",status="404"} 1)",
       R"(tresse_api_requests_total{route="/v1/webhooks",method="other",status="405"} 1)",
       R"(tresse_api_requests_total{route="/v1/webhooks",method="GET",status="other"} 1)"}) {
    EXPECT_NE(text.find(std::string(line) + "\n"), std::string::npos) << line << "\n" << text;
  }
  // Never a raw path: ids would make the series unbounded.
  EXPECT_EQ(text.find("we_1"), std::string::npos) << text;
  EXPECT_EQ(text.find("wp-admin"), std::string::npos) << text;
  // Only what was counted is rendered.
  EXPECT_EQ(text.find("status=\"201\""), std::string::npos) << text;
}

TEST(RequestMetricsTest, ConcurrentCountsAreNotLost) {
  metrics m;
  request_metrics counts(m, route_table(openapi_document()));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) counts.count("GET", "/v1/event_types", 200);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_NE(
      m.render().find(
          R"(tresse_api_requests_total{route="/v1/event_types",method="GET",status="200"} 40000)"),
      std::string::npos);
}

}  // namespace
}  // namespace tresse::dispatcher::api
