// The Management API end to end: a running dispatcher with real Redis and the Kafka mock
// cluster, called over HTTP. Every response a test sees is also checked against the OpenAPI
// document (dispatcher/api/openapi.json) by tests/api/validate.mjs when the test ends.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <ctime>
#include <chrono>
#include <fstream>
#include <map>
#include <regex>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "api_fixture.hpp"
#include "harness.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"

namespace tresse::test {
namespace {

using json = nlohmann::json;

std::string rfc3339_ms(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}


TEST_F(ApiTest, AuthenticationMatrix) {
  start_api({"api.allow_http=true"});
  std::string live = create_key("biz_a", "live");
  std::string test = create_key("biz_a", "test");
  std::string other = create_key("biz_b", "live");
  auto ep = create_webhook(live, "http://127.0.0.1:9/a");
  std::string path = "/v1/webhooks/" + ep["id"].get<std::string>();

  expect_error(call("GET", "/v1/webhooks", ""), 401, "authentication_required");
  expect_error(call("GET", "/v1/webhooks", "", "", {{"X-API-Key", "dk_live_abc123"}}), 403,
               "forbidden", "business key");
  expect_error(call("GET", "/v1/webhooks", "dk_test_abc123"), 403, "forbidden");
  expect_error(call("GET", "/v1/webhooks", "", "", {{"Authorization", "Basic dXNlcjpwdw=="}}), 401,
               "invalid_api_key");
  expect_error(call("GET", "/v1/webhooks", "sk_live_nottherightlength"), 401, "invalid_api_key");
  expect_error(call("GET", "/v1/webhooks", "sk_live_" + std::string(32, 'A')), 401,
               "invalid_api_key");
  // Two credentials are refused, whichever comes first, not decided by header order.
  expect_error(call("GET", "/v1/webhooks", live, "", {{"Authorization", "Bearer " + other}}), 400,
               "invalid_request", "Authorization");
  expect_error(call("GET", "/v1/webhooks", "", "",
                    {{"Authorization", "Bearer " + live}, {"Authorization", "Bearer " + live}}),
               400, "invalid_request", "Authorization");

  // Another business's endpoint, and the other mode's, is a 404 whatever the method, and
  // nothing changes.
  for (const auto& key : {other, test}) {
    expect_error(call("GET", path, key), 404, "not_found");
    expect_error(call("PATCH", path, key, R"({"description":"x"})"), 404, "not_found");
    expect_error(call("DELETE", path, key), 404, "not_found");
    expect_error(call("POST", path + "/rotate_secret", key), 404, "not_found");
    expect_error(call("GET", path + "/deliveries", key), 404, "not_found");
  }
  auto still = call("GET", path, live);
  EXPECT_EQ(still.status, 200u);
  EXPECT_EQ(still.body["description"], "");
  EXPECT_FALSE(still.body.contains("secret")) << "a read never shows the secret";

  // Test keys see and create only test-mode endpoints.
  auto test_ep = create_webhook(test, "http://127.0.0.1:9/t");
  EXPECT_EQ(test_ep["livemode"], false);
  auto live_list = list_all("/v1/webhooks", live, 10);
  auto test_list = list_all("/v1/webhooks", test, 10);
  ASSERT_EQ(live_list.size(), 1u);
  ASSERT_EQ(test_list.size(), 1u);
  EXPECT_EQ(live_list[0]["id"], ep["id"]);
  EXPECT_EQ(test_list[0]["id"], test_ep["id"]);
  EXPECT_TRUE(list_all("/v1/webhooks", other, 10).empty());
  // Also when the caller's page is cached (the fast path of GET /v1/webhooks).
  expect_error(call("GET", "/v1/webhooks?limit=10", live, "", {{"Authorization", "Bearer " + live}}),
               400, "invalid_request", "Authorization");

  // A revoked key stops working at once.
  auto keys = cli({"keys", "list", "--business", "biz_b"});
  ASSERT_EQ(keys["data"].size(), 1u);
  EXPECT_FALSE(keys["data"][0].contains("secret"));
  cli({"keys", "revoke", "--id", keys["data"][0]["id"].get<std::string>()});
  expect_error(call("GET", "/v1/webhooks", other), 401, "invalid_api_key");
}

TEST_F(ApiTest, SchemeAndHostAreCaseInsensitive) {
  recording_sink sink;
  start_api({"api.allow_http=true"});
  std::string key = create_key("biz_case", "live");
  EXPECT_EQ(call("POST", "/v1/webhooks", key, R"({"url":"HTTPS://EXAMPLE.COM/x","events":["*"]})")
                .status,
            201u);
  // And it works: an upper-case scheme is delivered to.
  const std::string url = sink.url();
  ASSERT_TRUE(url.starts_with("http://"));
  auto ep = create_webhook(key, "HTTP://" + url.substr(7), json::array({"client.created"}));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto r = call("POST", "/v1/webhooks/" + ep["id"].get<std::string>() + "/test", key);
  ASSERT_EQ(r.status, 202u) << r.raw.body;
  ASSERT_TRUE(sink.wait_for_count(1));
}

TEST_F(ApiTest, InternalAddressesAreRefusedUnlessPrivateNetworksAreAllowed) {
  start_api({"delivery.allow_list=10.20.0.0/16"}, /*allow_private_networks=*/false);
  std::string key = create_key("biz_ssrf", "live");
  for (const auto& [url, why] : std::vector<std::pair<std::string, std::string>>{
           {"https://127.0.0.1/h", "loopback"},
           {"https://10.0.0.7/h", "private"},
           {"https://[::1]:8443/h", "loopback"},
           {"https://169.254.169.254/latest", "link_local"},
           {"https://[::ffff:192.168.1.1]/h", "private"}}) {
    SCOPED_TRACE(url);
    expect_error(call("POST", "/v1/webhooks", key, json{{"url", url}, {"events", {"*"}}}.dump()),
                 400, "invalid_request", why);
  }
  EXPECT_TRUE(list_all("/v1/webhooks", key, 10).empty());
  // The allow-list is the delivery client's; host names are checked at connect, not here.
  auto allowed = create_webhook(key, "https://10.20.3.4/h");
  create_webhook(key, "https://hooks.example.com/h");
  expect_error(call("PATCH", "/v1/webhooks/" + allowed["id"].get<std::string>(), key,
                    R"({"url":"https://192.168.0.1/h"})"),
               400, "invalid_request", "private");
  EXPECT_EQ(call("GET", "/v1/webhooks/" + allowed["id"].get<std::string>(), key).body["url"],
            "https://10.20.3.4/h");
}

TEST_F(ApiTest, LiveEndpointsNeedHttpsUnlessAllowed) {
  start_api();
  std::string live = create_key("biz_a", "live");
  std::string test = create_key("biz_a", "test");
  expect_error(call("POST", "/v1/webhooks", live, R"({"url":"http://example.com/h","events":["*"]})"),
               400, "invalid_request", "https");
  EXPECT_EQ(call("POST", "/v1/webhooks", live,
                 R"({"url":"https://example.com/h","events":["appointment.*"]})")
                .status,
            201u);
  EXPECT_EQ(call("POST", "/v1/webhooks", test, R"({"url":"http://example.com/h","events":["*"]})")
                .status,
            201u);
}

TEST_F(ApiTest, TestModeEndpointsReceiveOnlySandboxEvents) {
  recording_sink live_sink, test_sink;
  start_api({"api.allow_http=true"});
  std::string live = create_key("biz_m", "live");
  std::string test = create_key("biz_m", "test");
  create_webhook(live, live_sink.url());
  create_webhook(test, test_sink.url());
  auto sandbox = events::make_event(
      {.type = "client.created", .business_id = "biz_m", .livemode = false});
  auto real = events::make_event({.type = "client.created", .business_id = "biz_m"});
  ASSERT_TRUE(sandbox && real);
  publish({*sandbox, *real});
  ASSERT_TRUE(live_sink.wait_for_count(1));
  ASSERT_TRUE(test_sink.wait_for_count(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // nothing else arrives
  ASSERT_EQ(live_sink.count(), 1u);
  ASSERT_EQ(test_sink.count(), 1u);
  EXPECT_EQ(live_sink.requests()[0].header("webhook-id"), real->id);
  EXPECT_EQ(test_sink.requests()[0].header("webhook-id"), sandbox->id);
}

TEST_F(ApiTest, CrudRoundTrip) {
  start_api({"api.allow_http=true"});
  std::string key = create_key("biz_c", "live");
  auto created = call("POST", "/v1/webhooks", key,
                      R"({"url":"https://example.com/h","events":["appointment.*","client.created"],
                          "description":"front desk","enabled":false,"rate_limit_per_second":5})");
  ASSERT_EQ(created.status, 201u) << created.raw.body;
  EXPECT_TRUE(created.body["secret"].get<std::string>().starts_with("whsec_"));
  EXPECT_TRUE(created.body["id"].get<std::string>().starts_with("we_"));
  EXPECT_EQ(created.body["object"], "webhook_endpoint");
  EXPECT_EQ(created.body["description"], "front desk");
  EXPECT_EQ(created.body["enabled"], false);
  EXPECT_EQ(created.body["rate_limit_per_second"], 5);
  EXPECT_EQ(created.body["ordering"], "none");  // the default
  EXPECT_EQ(created.body["business_id"], "biz_c");
  std::string path = "/v1/webhooks/" + created.body["id"].get<std::string>();
  auto listed = call("GET", "/v1/webhooks", key);  // the page is cached now
  ASSERT_EQ(listed.body["data"].size(), 1u);
  EXPECT_EQ(listed.body["data"][0]["url"], "https://example.com/h");

  auto patched = call("PATCH", path, key,
                      R"({"url":"https://example.org/x","events":["client.*"],"enabled":true,
                          "ordering":"per_resource"})");
  ASSERT_EQ(patched.status, 200u) << patched.raw.body;
  // The list shows the change at once (a cached page is checked against the endpoints' version).
  listed = call("GET", "/v1/webhooks", key);
  ASSERT_EQ(listed.body["data"].size(), 1u);
  EXPECT_EQ(listed.body["data"][0], patched.body);
  EXPECT_EQ(patched.body["url"], "https://example.org/x");
  EXPECT_EQ(patched.body["events"], json::array({"client.*"}));
  EXPECT_EQ(patched.body["enabled"], true);
  EXPECT_EQ(patched.body["ordering"], "per_resource");
  EXPECT_EQ(patched.body["description"], "front desk");
  EXPECT_FALSE(patched.body.contains("secret"));
  EXPECT_EQ(call("GET", path, key).body, patched.body);

  auto deleted = call("DELETE", path, key);
  ASSERT_EQ(deleted.status, 200u);
  EXPECT_EQ(deleted.body, (json{{"id", created.body["id"]}, {"object", "webhook_endpoint"},
                                {"deleted", true}}));
  expect_error(call("GET", path, key), 404, "not_found");
  expect_error(call("DELETE", path, key), 404, "not_found");

  auto types = list_all("/v1/event_types", key, 4);
  std::vector<std::string> names;
  for (const auto& t : types) names.push_back(t["name"]);
  EXPECT_EQ(names, (std::vector<std::string>(events::known_types.begin(),
                                             events::known_types.end())));
  // Each with its data's JSON Schema and an example, as the checked-in catalog has them.
  for (const auto& t : types) {
    const std::string name = t["name"];
    EXPECT_EQ(t["schema"]["$id"], "https://schemas.tresse.io/webhooks/events/" + name + ".json");
    std::ifstream file(TRESSE_SOURCE_DIR "/common/schemas/events/" + name + ".json");
    const json checked_in = json::parse(file);
    EXPECT_EQ(t["example"], checked_in["examples"][0]) << name;
    EXPECT_EQ(t["schema"]["description"], checked_in["description"]) << name;
  }

  // The document served is the checked-in one.
  auto doc = call("GET", "/v1/openapi.json", "");
  ASSERT_EQ(doc.status, 200u);
  std::ifstream in(TRESSE_SOURCE_DIR "/dispatcher/api/openapi.json");
  EXPECT_EQ(doc.body, json::parse(in));
}

TEST_F(ApiTest, PaginationIsStableUnderConcurrentInsertsAndDeletes) {
  start_api({"api.allow_http=true"});
  std::string key = create_key("biz_p", "live");
  std::vector<std::string> ids;
  for (int i = 0; i < 60; ++i) {
    ids.push_back(create_webhook(key, "https://example.com/" + std::to_string(i))["id"]);
  }
  // Page through 7 at a time while, between pages, another client deletes endpoints both
  // already seen and not yet seen, and creates new ones.
  std::set<std::string> deleted_unseen, deleted_seen, created_during;
  std::vector<std::string> seen;
  std::string cursor;
  int page = 0;
  for (;; ++page) {
    auto r = call("GET", "/v1/webhooks?limit=7" + (cursor.empty() ? "" : "&cursor=" + cursor), key);
    ASSERT_EQ(r.status, 200u) << r.raw.body;
    ASSERT_LE(r.body["data"].size(), 7u);
    for (const auto& ep : r.body["data"]) seen.push_back(ep["id"]);
    if (!r.body["has_more"].get<bool>()) break;
    cursor = r.body["next_cursor"];
    // Delete one not yet seen (the last of the original ones still there), one already seen,
    // and add one.
    for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
      bool gone = deleted_unseen.contains(*it) || deleted_seen.contains(*it);
      bool was_seen = std::find(seen.begin(), seen.end(), *it) != seen.end();
      if (!gone && !was_seen) {
        ASSERT_EQ(call("DELETE", "/v1/webhooks/" + *it, key).status, 200u);
        deleted_unseen.insert(*it);
        break;
      }
    }
    std::string old = seen[seen.size() / 2];
    if (!deleted_seen.contains(old)) {
      ASSERT_EQ(call("DELETE", "/v1/webhooks/" + old, key).status, 200u);
      deleted_seen.insert(old);
    }
    created_during.insert(create_webhook(key, "https://example.com/new")["id"]);
  }
  EXPECT_GT(page, 5);
  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size()) << "an endpoint was listed twice";
  for (const auto& id : ids) {
    if (deleted_unseen.contains(id)) {
      EXPECT_FALSE(unique.contains(id)) << id << " was deleted before its page";
    } else {
      EXPECT_TRUE(unique.contains(id)) << id << " existed throughout and was skipped";
    }
  }
  // Ids are time-ordered, so endpoints created during the walk come after the cursor.
  for (const auto& id : created_during) EXPECT_TRUE(unique.contains(id)) << id;
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
}

TEST_F(ApiTest, RateLimitIsPerKeySharedAcrossInstancesWithHeaders) {
  // Two instances share one limit through Redis.
  auto& first = start_api({"api.rate_limit_per_minute=6"});
  std::uint16_t port_a = api_port_;
  start_api({"api.rate_limit_per_minute=6"});
  std::uint16_t port_b = api_port_;
  ASSERT_NE(first.api_port(), port_b);
  std::string key = create_key("biz_r", "live");
  std::string other = create_key("biz_r", "live");

  // A window boundary in the middle would reset the count: then try again in the new window.
  for (int round = 0; round < 2; ++round) {
    std::vector<api_reply> replies;
    for (int i = 0; i < 6; ++i) {
      replies.push_back(call("GET", "/v1/event_types", key, "", {}, i % 2 ? port_b : port_a));
    }
    auto over = call("GET", "/v1/event_types", key, "", {}, port_b);
    std::string reset = replies.front().header("X-RateLimit-Reset");
    if (over.header("X-RateLimit-Reset") != reset) continue;
    for (int i = 0; i < 6; ++i) {
      EXPECT_EQ(replies[i].status, 200u);
      EXPECT_EQ(replies[i].header("X-RateLimit-Limit"), "6");
      EXPECT_EQ(replies[i].header("X-RateLimit-Remaining"), std::to_string(5 - i));
    }
    expect_error(over, 429, "rate_limited");
    EXPECT_EQ(over.header("X-RateLimit-Remaining"), "0");
    int retry_after = std::stoi(over.header("Retry-After"));
    EXPECT_GE(retry_after, 1);
    EXPECT_LE(retry_after, 60);
    auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
    EXPECT_NEAR(std::stoll(reset), now_s + retry_after, 2);
    // Another key has its own budget.
    auto fresh = call("GET", "/v1/event_types", other, "", {}, port_a);
    EXPECT_EQ(fresh.status, 200u);
    EXPECT_EQ(fresh.header("X-RateLimit-Remaining"), "5");
    return;
  }
  FAIL() << "two window boundaries in a row";
}

TEST_F(ApiTest, BadInputGetsTheRightErrorAndChangesNothing) {
  start_api({"api.allow_http=true"});
  std::string key = create_key("biz_e", "live");
  auto ep = create_webhook(key, "https://example.com/h", json::array({"client.*"}));
  std::string path = "/v1/webhooks/" + ep["id"].get<std::string>();
  auto before = call("GET", path, key).body;

  struct bad {
    std::string method, target, body, code, names;
    unsigned status;
  };
  std::vector<bad> cases = {
      {"POST", "/v1/webhooks", "{", "invalid_request", "JSON", 400},
      {"POST", "/v1/webhooks", "[1,2]", "invalid_request", "object", 400},
      {"POST", "/v1/webhooks", "", "invalid_request", "object", 400},
      {"POST", "/v1/webhooks", R"({"url":"https://e.com","events":["*"],"colour":"red"})",
       "invalid_request", "colour", 400},
      {"POST", "/v1/webhooks", R"({"events":["*"]})", "invalid_request", "url", 400},
      {"POST", "/v1/webhooks", R"({"url":"https://e.com"})", "invalid_request", "events", 400},
      {"POST", "/v1/webhooks", R"({"url":42,"events":["*"]})", "invalid_request", "url", 400},
      {"POST", "/v1/webhooks", R"({"url":"ftp://e.com","events":["*"]})", "invalid_request", "url",
       400},
      {"POST", "/v1/webhooks", R"({"url":"https://e.com","events":"*"})", "invalid_request",
       "events", 400},
      {"POST", "/v1/webhooks", R"({"url":"https://e.com","events":[]})", "invalid_request",
       "events", 400},
      {"POST", "/v1/webhooks", R"({"url":"https://e.com","events":["appointment.exploded"]})",
       "invalid_request", "events", 400},
      {"POST", "/v1/webhooks", R"({"url":"https://e.com","events":["*"],"enabled":"yes"})",
       "invalid_request", "enabled", 400},
      {"POST", "/v1/webhooks",
       R"({"url":"https://e.com","events":["*"],"rate_limit_per_second":-1})", "invalid_request",
       "rate_limit_per_second", 400},
      {"POST", "/v1/webhooks", R"({"url":"https://e.com","events":["*"],"description":7})",
       "invalid_request", "description", 400},
      {"POST", "/v1/webhooks", R"({"url":"https://e.com","events":["*"],"ordering":"fifo"})",
       "invalid_request", "ordering", 400},
      {"PATCH", path, R"({"ordering":true})", "invalid_request", "ordering", 400},
      {"PATCH", path, "{}", "invalid_request", "at least one", 400},
      {"PATCH", path, R"({"events":[1]})", "invalid_request", "events", 400},
      {"PATCH", path, R"({"secret":"whsec_x"})", "invalid_request", "secret", 400},
      {"PATCH", path, R"({"url":"notaurl"})", "invalid_request", "url", 400},
      // What the delivery client cannot post to is refused at create and update (the client's
      // own parser decides), not accepted and then failed for a day of retries.
      {"POST", "/v1/webhooks", R"({"url":"https://e.com:70000/h","events":["*"]})",
       "invalid_request", "port", 400},
      {"POST", "/v1/webhooks", R"({"url":"https://user:pw@e.com/h","events":["*"]})",
       "invalid_request", "user-info", 400},
      {"POST", "/v1/webhooks", R"({"url":"https://e%2ecom/h","events":["*"]})",
       "invalid_request", "host", 400},
      {"POST", "/v1/webhooks", R"({"url":"https://e.com:0/h","events":["*"]})",
       "invalid_request", "port", 400},
      {"PATCH", path, R"({"url":"https://e.com:99999/h"})", "invalid_request", "port", 400},
      {"PATCH", path, R"({"url":"ftp://e.com/h"})", "invalid_request", "url", 400},
      {"POST", path + "/rotate_secret", R"({"previous_expires_in":"1h"})", "invalid_request",
       "previous_expires_in", 400},
      {"POST", path + "/rotate_secret", R"({"previous_expires_in":9999999})", "invalid_request",
       "previous_expires_in", 400},
      {"POST", path + "/replay", R"({"since":"yesterday","until":"2026-01-01T00:00:00Z"})",
       "invalid_request", "since", 400},
      {"POST", path + "/replay", R"({"since":"2026-01-02T00:00:00Z","until":"2026-01-01T00:00:00Z"})",
       "invalid_request", "since", 400},
      {"POST", path + "/replay", R"({"since":"2026-01-01T00:00:00Z"})", "invalid_request", "until",
       400},
      // Outside years 2000-2100: refused, not wrapped around to 1753 or 1816.
      {"POST", path + "/replay", R"({"since":"0000-01-01T00:00:00Z","until":"2026-01-01T00:00:00Z"})",
       "invalid_request", "since", 400},
      {"POST", path + "/replay", R"({"since":"2026-01-01T00:00:00Z","until":"9999-12-31T00:00:00Z"})",
       "invalid_request", "until", 400},
      {"POST", path + "/replay", R"({"since":"1999-12-31T00:00:00Z","until":"2000-01-02T00:00:00Z"})",
       "invalid_request", "since", 400},
      {"GET", "/v1/webhooks?limit=0", "", "invalid_request", "limit", 400},
      {"GET", "/v1/webhooks?limit=101", "", "invalid_request", "limit", 400},
      {"GET", "/v1/webhooks?limit=ten", "", "invalid_request", "limit", 400},
      {"GET", "/v1/webhooks?cursor=garbage", "", "invalid_request", "cursor", 400},
      {"GET", "/v1/webhooks?colour=red", "", "invalid_request", "colour", 400},
      {"GET", path + "/deliveries?status=maybe", "", "invalid_request", "status", 400},
      {"GET", path + "/deliveries?event_type=nope", "", "invalid_request", "event_type", 400},
      {"GET", "/v1/webhooks/we_doesnotexist", "", "not_found", "", 404},
      {"GET", "/v1/webhooks/bad%20id", "", "not_found", "", 404},
      {"GET", "/v1/nothing", "", "not_found", "", 404},
      {"GET", "/v1/replays/rpl_unknown", "", "not_found", "", 404},
      {"GET", path + "/deliveries/evt_unknown", "", "not_found", "", 404},
      {"POST", path + "/deliveries/evt_unknown/retry", "", "not_found", "", 404},
      {"PUT", "/v1/webhooks", "{}", "method_not_allowed", "", 405},
      {"POST", path, "{}", "method_not_allowed", "", 405},
      {"DELETE", "/v1/event_types", "", "method_not_allowed", "", 405},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.method + " " + c.target + " " + c.body);
    expect_error(call(c.method, c.target, key, c.body), c.status, c.code, c.names);
  }
  // Over 1 MiB: 413, read no further, with the rate-limit headers.
  std::string huge = R"({"url":"https://e.com","events":["*"],"description":")" +
                     std::string(1024 * 1024, 'x') + "\"}";
  expect_error(call("POST", "/v1/webhooks", key, huge), 413, "payload_too_large");

  EXPECT_EQ(call("GET", path, key).body, before);
  EXPECT_EQ(list_all("/v1/webhooks", key, 100).size(), 1u) << "a bad request created something";
}

TEST_F(ApiTest, RedisGoingAwayIsA503AndThenServiceResumes) {
  start_api({"api.allow_http=true"});
  std::string key = create_key("biz_g", "live");
  // Concurrent writes, so that whatever Redis connections the API keeps are all open (and so
  // broken by the restart below), not only the one a lone request would use.
  auto create_concurrently = [&](const std::string& tag) {
    std::vector<std::thread> writers;
    std::vector<unsigned> statuses(4, 0);
    std::vector<json> bodies(4);
    for (std::size_t i = 0; i < statuses.size(); ++i) {
      writers.emplace_back([&, i] {
        http_client client("127.0.0.1", api_port_);
        auto r = client.request(
            "POST", "/v1/webhooks", {{"Authorization", "Bearer " + key}},
            json{{"url", "https://example.com/" + tag + std::to_string(i)}, {"events", {"*"}}}
                .dump());
        statuses[i] = r.status;
        bodies[i] = json::parse(r.body, nullptr, false);
      });
    }
    for (auto& w : writers) w.join();
    for (std::size_t i = 0; i < statuses.size(); ++i) {
      EXPECT_EQ(statuses[i], 201u) << tag << i << ": " << bodies[i].dump();
    }
  };
  create_concurrently("before");
  redis_.stop();
  auto down = call("GET", "/v1/webhooks", key);
  EXPECT_EQ(down.status, 503u);
  ASSERT_TRUE(down.body.is_object()) << down.raw.body;
  EXPECT_EQ(down.body["error"]["code"], "service_unavailable");
  EXPECT_EQ(down.body["error"]["status"], 503);
  redis_.start();
  // Whether the data survived depends on Redis persistence, not on us; serving again does.
  ASSERT_TRUE(eventually_true([&] { return call("GET", "/v1/webhooks", key).status == 200; }));
  // Once one request is served, every one is: no connection that Redis dropped is left to fail
  // the next request (a pooled blocking connection idle across the restart used to).
  create_concurrently("after");
  auto again = create_webhook(key, "https://example.com/after");
  auto listed = list_all("/v1/webhooks", key, 10);
  EXPECT_TRUE(std::any_of(listed.begin(), listed.end(),
                          [&](const json& ep) { return ep["id"] == again["id"]; }));
}

TEST_F(ApiTest, IdempotencyKeyReturnsTheFirstResponse) {
  start_api({"api.allow_http=true"});
  std::string key = create_key("biz_i", "live");
  std::string body = R"({"url":"https://example.com/h","events":["*"]})";
  auto first = call("POST", "/v1/webhooks", key, body, {{"Idempotency-Key", "create-1"}});
  ASSERT_EQ(first.status, 201u);
  auto again = call("POST", "/v1/webhooks", key, body, {{"Idempotency-Key", "create-1"}});
  EXPECT_EQ(again.status, 201u);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.header("Idempotent-Replayed"), "true");
  EXPECT_EQ(list_all("/v1/webhooks", key, 10).size(), 1u);
  // The same key with another request is refused; another key creates anew.
  expect_error(call("POST", "/v1/webhooks", key, R"({"url":"https://example.com/other","events":["*"]})",
                    {{"Idempotency-Key", "create-1"}}),
               409, "idempotency_conflict");
  auto second = call("POST", "/v1/webhooks", key, body, {{"Idempotency-Key", "create-2"}});
  EXPECT_EQ(second.status, 201u);
  EXPECT_NE(second.body["id"], first.body["id"]);
  // Keys are per API key: another key's identical Idempotency-Key is a different request.
  std::string key2 = create_key("biz_i", "live");
  auto third = call("POST", "/v1/webhooks", key2, body, {{"Idempotency-Key", "create-1"}});
  EXPECT_EQ(third.status, 201u);
  EXPECT_NE(third.body["id"], first.body["id"]);
  expect_error(call("POST", "/v1/webhooks", key, body, {{"Idempotency-Key", std::string(300, 'k')}}),
               400, "invalid_request", "Idempotency-Key");
  // Two Idempotency-Key headers are refused, not "the first wins", and create nothing.
  expect_error(call("POST", "/v1/webhooks", key, body,
                    {{"Idempotency-Key", "create-1"}, {"Idempotency-Key", "create-3"}}),
               400, "invalid_request", "Idempotency-Key");
  EXPECT_EQ(list_all("/v1/webhooks", key, 10).size(), 3u);  // first, second, third
}

TEST_F(ApiTest, RotationSignsWithBothSecretsUntilTheOldExpires) {
  recording_sink sink;
  start_api({"api.allow_http=true"});
  std::string key = create_key("biz_s", "live");
  auto ep = create_webhook(key, sink.url());
  std::string old_secret = ep["secret"];
  auto rotated = call("POST", "/v1/webhooks/" + ep["id"].get<std::string>() + "/rotate_secret",
                      key, R"({"previous_expires_in":3600})");
  ASSERT_EQ(rotated.status, 200u) << rotated.raw.body;
  std::string new_secret = rotated.body["secret"];
  EXPECT_NE(new_secret, old_secret);
  ASSERT_EQ(rotated.body["previous_secrets"].size(), 1u);
  EXPECT_EQ(rotated.body["previous_secrets"][0]["secret"], old_secret);

  // The registry refresh (100 ms here) carries the rotation to delivery.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto ev = make_event("appointment.created", "biz_s");
  publish({ev});
  ASSERT_TRUE(sink.wait_for_count(1));
  auto r = sink.requests()[0];
  auto entries = signature_entries(r.header("webhook-signature"));
  ASSERT_EQ(entries.size(), 2u) << r.header("webhook-signature");
  EXPECT_TRUE(verify(r, {new_secret}));
  EXPECT_TRUE(verify(r, {old_secret}));
  EXPECT_FALSE(verify(r, {"whsec_" + std::string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")}));
}

TEST_F(ApiTest, TestPingReachesOnlyThatEndpoint) {
  recording_sink target, bystander;
  start_api({"api.allow_http=true"});
  std::string key = create_key("biz_t", "live");
  auto ep = create_webhook(key, target.url(), json::array({"client.created"}));
  create_webhook(key, bystander.url(), json::array({"*"}));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto r = call("POST", "/v1/webhooks/" + ep["id"].get<std::string>() + "/test", key);
  ASSERT_EQ(r.status, 202u) << r.raw.body;
  std::string event_id = r.body["event_id"];
  ASSERT_TRUE(target.wait_for_count(1));
  auto got = target.requests()[0];
  EXPECT_EQ(got.header("webhook-id"), event_id);
  EXPECT_EQ(got.header("tresse-event-type"), "webhook.test");
  EXPECT_TRUE(verify(got, {ep["secret"].get<std::string>()}));
  auto body = json::parse(got.body);
  EXPECT_EQ(body["data"]["endpoint_id"], ep["id"]);
  EXPECT_EQ(body["business_id"], "biz_t");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(bystander.count(), 0u) << "a test ping went to another endpoint";
  EXPECT_EQ(target.count(), 1u);

  // Disabled endpoints are not pinged.
  ASSERT_EQ(call("PATCH", "/v1/webhooks/" + ep["id"].get<std::string>(), key, R"({"enabled":false})")
                .status,
            200u);
  expect_error(call("POST", "/v1/webhooks/" + ep["id"].get<std::string>() + "/test", key), 400,
               "invalid_request", "disabled");
}

TEST_F(ApiTest, DeliveriesListsAttemptsAndManualRetryRedelivers) {
  std::atomic<bool> healthy{false};
  recording_sink sink([&](const received_request&) {
    return sink_reply{.status = healthy ? 200u : 500u};
  });
  start_api({"api.allow_http=true"});
  std::string key = create_key("biz_d", "live");
  auto ep = create_webhook(key, sink.url());
  std::string base = "/v1/webhooks/" + ep["id"].get<std::string>();
  EXPECT_EQ(call("GET", "/v1/webhooks", key).body["data"][0]["failure_count"], 0);  // cached
  auto ev = make_event("appointment.canceled", "biz_d");
  publish({ev});
  // The first attempt and three retries (200 ms apart here) all fail: dead-lettered.
  ASSERT_TRUE(sink.wait_for_count(4));
  ASSERT_TRUE(eventually_true([&] {
    auto r = call("GET", base + "/deliveries/" + ev.id, key);
    return r.status == 200 && r.body["data"].size() == 4;
  }));
  // Counters change without a version bump; a cached page still shows them as they are.
  ASSERT_TRUE(eventually_true([&] { return call("GET", base, key).body["dead_lettered"] == 1; }));
  auto one = call("GET", base, key).body;
  auto listed = call("GET", "/v1/webhooks", key).body["data"];
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["failure_count"], one["failure_count"]);
  EXPECT_EQ(listed[0]["dead_lettered"], 1);
  EXPECT_GE(listed[0]["failure_count"], 4);
  auto failed = list_all(base + "/deliveries?status=failed", key, 3);
  ASSERT_EQ(failed.size(), 4u);
  EXPECT_EQ(failed[0]["attempt"], 4);  // newest first
  EXPECT_EQ(failed[3]["attempt"], 1);
  for (const auto& a : failed) {
    EXPECT_EQ(a["succeeded"], false);
    EXPECT_EQ(a["status"], 500);
    EXPECT_TRUE(a["error"].is_null()) << "a response came: the status says what" << a.dump();
    EXPECT_EQ(a["event_id"], ev.id);
    EXPECT_TRUE(a["id"].get<std::string>().starts_with("att_"));
  }
  EXPECT_TRUE(list_all(base + "/deliveries?status=succeeded", key, 10).empty());
  EXPECT_TRUE(list_all(base + "/deliveries?event_type=client.created", key, 10).empty());
  EXPECT_EQ(list_all(base + "/deliveries?event_type=appointment.canceled", key, 10).size(), 4u);

  // The endpoint is fixed; a manual retry delivers now.
  // While the last attempt is still being dead-lettered the retry is refused (409), never
  // silently dropped.
  healthy = true;
  api_reply retry;
  ASSERT_TRUE(eventually_true([&] {
    retry = call("POST", base + "/deliveries/" + ev.id + "/retry", key);
    if (retry.status == 409) expect_error(retry, 409, "delivery_in_progress");
    return retry.status != 409;
  }));
  ASSERT_EQ(retry.status, 202u) << retry.raw.body;
  EXPECT_EQ(retry.body["event_id"], ev.id);
  ASSERT_TRUE(sink.wait_for_delivered(1));
  auto last = sink.requests().back();
  EXPECT_EQ(last.header("webhook-id"), ev.id);
  EXPECT_EQ(last.body, ev.raw);
  EXPECT_TRUE(verify(last, {ep["secret"].get<std::string>()}));
  ASSERT_TRUE(eventually_true([&] {
    return list_all(base + "/deliveries?status=succeeded", key, 10).size() == 1;
  }));
  auto history = list_all(base + "/deliveries/" + ev.id, key, 2);
  EXPECT_EQ(history.size(), 5u);
  EXPECT_EQ(history[0]["succeeded"], true);
  EXPECT_TRUE(history[0]["status"].is_number()) << history[0].dump();
  EXPECT_TRUE(history[0]["error"].is_null()) << "no \"http_2xx\" error: " << history[0].dump();
}

// Stats are counted by the delivery path in minute buckets in Redis (about a second behind)
// and read back summed, with percentiles from the merged latency histograms.
TEST_F(ApiTest, StatsCountDeliveriesAndLatencyPerMinute) {
  recording_sink sink([](const received_request& r) {
    // Client events fail at once; appointments succeed, slowly.
    if (r.header("tresse-event-type") == "client.created") return sink_reply{.status = 500};
    return sink_reply{.status = 200, .delay = std::chrono::milliseconds(300)};
  });
  start_api({"api.allow_http=true"});
  std::string key = create_key("biz_st", "live");
  auto ep = create_webhook(key, sink.url());
  const std::string base = "/v1/webhooks/" + ep["id"].get<std::string>() + "/stats";
  const auto before = std::chrono::system_clock::now() - std::chrono::minutes(1);

  auto empty = call("GET", base, key);
  ASSERT_EQ(empty.status, 200u) << empty.raw.body;
  EXPECT_EQ(empty.body["step"], 60);
  EXPECT_EQ(empty.body["data"].size(), 61u);  // the hour up to now, minute by minute
  EXPECT_EQ(empty.body["summary"]["delivered"], 0);
  EXPECT_TRUE(empty.body["summary"]["latency_ms"]["p50"].is_null());

  publish({make_event("appointment.created", "biz_st"), make_event("appointment.created", "biz_st"),
           make_event("appointment.created", "biz_st"), make_event("client.created", "biz_st")});
  // Three delivered; the client event's first attempt and three retries (200 ms apart) fail.
  ASSERT_TRUE(sink.wait_for_count(7));
  const std::string window = base + "?since=" + rfc3339_ms(before) +
                             "&until=" + rfc3339_ms(std::chrono::system_clock::now() +
                                                    std::chrono::minutes(1));
  api_reply got;
  ASSERT_TRUE(eventually_true([&] {
    got = call("GET", window, key);
    return got.status == 200 && got.body["summary"]["delivered"] == 3 &&
           got.body["summary"]["failed"] == 4;
  })) << got.raw.body;
  const auto& summary = got.body["summary"];
  EXPECT_DOUBLE_EQ(summary["success_rate"].get<double>(), 3.0 / 7.0);
  // Every attempt got a response: 4 fast, 3 of at least 300 ms (bucket bounds are >= the value).
  EXPECT_GE(summary["latency_ms"]["p99"].get<std::int64_t>(), 300);
  EXPECT_LE(summary["latency_ms"]["p50"].get<std::int64_t>(),
            summary["latency_ms"]["p99"].get<std::int64_t>());
  std::int64_t delivered = 0, failed = 0;
  for (const auto& step : got.body["data"]) {
    delivered += step["delivered"].get<std::int64_t>();
    failed += step["failed"].get<std::int64_t>();
    if (step["delivered"].get<std::int64_t>() > 0) {
      EXPECT_GE(step["latency_ms"]["p99"].get<std::int64_t>(), 300) << step.dump();
    }
  }
  EXPECT_EQ(delivered, 3);
  EXPECT_EQ(failed, 4);
  // Hourly steps over a day hold the same counts.
  auto day = call("GET", base + "?step=3600&since=" +
                              rfc3339_ms(std::chrono::system_clock::now() - std::chrono::hours(24)),
                  key);
  ASSERT_EQ(day.status, 200u) << day.raw.body;
  EXPECT_EQ(day.body["step"], 3600);
  EXPECT_EQ(day.body["summary"]["delivered"], 3);

  // Bad parameters are 400s naming the parameter; another business sees no such endpoint.
  expect_error(call("GET", base + "?step=59", key), 400, "invalid_request", "step");
  expect_error(call("GET", base + "?since=yesterday", key), 400, "invalid_request", "since");
  expect_error(call("GET", base + "?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", key),
               400, "invalid_request", "since must be before until");
  expect_error(call("GET", base + "?since=2026-01-01T00:00:00Z&until=2026-01-03T01:00:00Z&step=3600",
                    key),
               400, "invalid_request", "48 hours");
  expect_error(call("GET", base + "?since=2026-01-01T00:00:00Z&until=2026-01-02T12:00:00Z", key),
               400, "invalid_request", "1440 steps");
  expect_error(call("GET", base + "?bucket=1", key), 400, "invalid_request", "bucket");
  expect_error(call("GET", base, create_key("biz_other", "live")), 404, "not_found");
  expect_error(call("POST", base, key), 405, "method_not_allowed");
}

// The endpoint's state, as every instance's health reports and the shared breaker say it, on
// both GETs; and the operators' view over every business, with the operator token only.
TEST_F(ApiTest, HealthAndTheOperatorsViewShowAFailingEndpointAsFailing) {
  recording_sink sink([](const received_request& r) {
    return sink_reply{.status = r.target == "/bad" ? 500u : 200u};
  });
  const std::string token = "op_test_0123456789abcdefghijklmnopqrstuvwxyz";
  start_api({"api.allow_http=true", "api.operator_token=" + token});
  std::string key_a = create_key("biz_ops_a", "live"), key_b = create_key("biz_ops_b", "live");
  auto bad = create_webhook(key_a, sink.url("/bad"));
  auto good = create_webhook(key_b, sink.url("/good"));
  const std::string bad_id = bad["id"], good_id = good["id"];
  auto fresh = call("GET", "/v1/webhooks/" + good_id, key_b);
  ASSERT_EQ(fresh.status, 200u) << fresh.raw.body;
  EXPECT_EQ(fresh.body["health"]["state"], "idle");  // no attempts yet
  EXPECT_TRUE(fresh.body["health"]["success_rate"].is_null());

  publish({make_event("client.created", "biz_ops_a"), make_event("client.created", "biz_ops_b")});
  ASSERT_TRUE(sink.wait_for_delivered(1));
  // Instances report every 2 s; the list (a cached page after the first call) reads it afresh.
  api_reply listed;
  ASSERT_TRUE(eventually_true([&] {
    listed = call("GET", "/v1/webhooks", key_a);
    return listed.status == 200 && listed.body["data"][0]["health"]["state"] == "failing";
  })) << listed.raw.body;
  EXPECT_EQ(listed.body["data"][0]["health"]["success_rate"], 0.0);
  EXPECT_GE(listed.body["data"][0]["health"]["attempts"], 1);
  EXPECT_EQ(call("GET", "/v1/webhooks/" + bad_id, key_a).body["health"]["state"], "failing");
  ASSERT_TRUE(eventually_true([&] {
    return call("GET", "/v1/webhooks/" + good_id, key_b).body["health"]["state"] == "healthy";
  }));

  // The operators' view: not with a business key, nor a wrong token.
  expect_error(call("GET", "/v1/ops/overview", key_a), 401, "invalid_api_key", "operator token");
  expect_error(call("GET", "/v1/ops/overview", token + "x"), 401, "invalid_api_key");
  expect_error(call("GET", "/v1/ops/overview?x=1", token), 400, "invalid_request");
  expect_error(call("POST", "/v1/ops/overview", token), 405, "method_not_allowed");
  // The bad endpoint's four attempts end in a dead letter.
  api_reply ops;
  ASSERT_TRUE(eventually_true([&] {
    ops = call("GET", "/v1/ops/overview", token);
    if (ops.status != 200) return false;
    std::int64_t dead = 0, delivered = 0;
    for (const auto& h : ops.body["dead_letters_per_hour"]) dead += h["count"].get<std::int64_t>();
    for (const auto& m : ops.body["delivery_rate"]) delivered += m["delivered"].get<std::int64_t>();
    return dead == 1 && delivered == 1 && ops.body["endpoints"]["by_state"]["failing"] == 1;
  })) << ops.raw.body;
  const auto& o = ops.body;
  EXPECT_FALSE(ops.header("X-RateLimit-Limit").empty());
  EXPECT_EQ(o["endpoints"]["total"], 2);
  EXPECT_EQ(o["endpoints"]["by_state"]["healthy"], 1);
  ASSERT_EQ(o["businesses"].size(), 2u);
  EXPECT_EQ(o["businesses"][0]["business_id"], "biz_ops_a");
  EXPECT_EQ(o["businesses"][0]["endpoints"][0]["id"], bad_id);
  EXPECT_EQ(o["businesses"][0]["endpoints"][0]["state"], "failing");
  ASSERT_EQ(o["worst_success_rate"].size(), 2u);
  EXPECT_EQ(o["worst_success_rate"][0]["id"], bad_id);
  EXPECT_EQ(o["worst_success_rate"][0]["success_rate"], 0.0);
  EXPECT_EQ(o["worst_p99"].size(), 2u);
  EXPECT_EQ(o["retry_backlog"]["scheduled"], 0);
  EXPECT_TRUE(o["consumer_lag"].is_number()) << o["consumer_lag"];
  EXPECT_EQ(o["dead_letters_per_hour"].size(), 24u);
  EXPECT_EQ(o["delivery_rate"].size(), 60u);

  // Disabled is a state of its own.
  ASSERT_EQ(call("PATCH", "/v1/webhooks/" + bad_id, key_a, R"({"enabled":false})").status, 200u);
  EXPECT_EQ(call("GET", "/v1/webhooks/" + bad_id, key_a).body["health"]["state"], "disabled");
  EXPECT_EQ(call("GET", "/v1/webhooks", key_a).body["data"][0]["health"]["state"], "disabled");
}

// Without api.operator_token the operators' view and its API do not exist.
TEST_F(ApiTest, OperatorsViewIsOffWithoutAToken) {
  start_api();
  expect_error(call("GET", "/v1/ops/overview", "op_test_0123456789abcdefghijklmnopqrstuvwxyz"), 404,
               "not_found");
  http_client ops_page("127.0.0.1", api_port_), console_page("127.0.0.1", api_port_);
  EXPECT_EQ(ops_page.request("GET", "/console/ops/", {}, "").status, 404u);
  EXPECT_EQ(console_page.request("GET", "/console/", {}, "").status, 200u);
}

TEST_F(ApiTest, OrderedEndpointShowsItsBacklogAndManualRetryGoesToTheBack) {
  auto e1 = make_event("appointment.created", "biz_o", R"({"id":"apt_x"})");
  auto e2 = make_event("appointment.canceled", "biz_o", R"({"id":"apt_x"})");
  std::atomic<bool> healthy{false};
  const std::string stuck = e1.id;
  recording_sink sink([&healthy, stuck](const received_request& r) {
    return sink_reply{.status = healthy || r.header("webhook-id") != stuck ? 200u : 500u};
  });
  start_api({"api.allow_http=true", "delivery.retry_schedule=1s,1s,1s"});
  std::string key = create_key("biz_o", "live");
  const json spec = {{"url", sink.url()}, {"events", {"*"}}, {"ordering", "per_resource"}};
  auto created = call("POST", "/v1/webhooks", key, spec.dump());
  ASSERT_EQ(created.status, 201u) << created.raw.body;
  EXPECT_EQ(created.body["ordering"], "per_resource");
  std::string base = "/v1/webhooks/" + created.body["id"].get<std::string>();
  auto empty = call("GET", base + "/ordered_backlog", key);
  ASSERT_EQ(empty.status, 200u) << empty.raw.body;
  EXPECT_EQ(empty.body["waiting"], 0);
  EXPECT_TRUE(empty.body["oldest_queued_at"].is_null());
  publish({e1, e2});

  // e1 fails at the head of apt_x's queue; e2 waits behind it. (e2 can be waiting before e1's
  // first attempt reaches the sink: wait for both.)
  ASSERT_TRUE(eventually_true([&] {
    auto b = call("GET", base + "/ordered_backlog", key).body;
    return b["waiting"] == 1 && b["oldest_queued_at"].is_string() && !sink.ids().empty();
  }));
  EXPECT_EQ(sink.ids(), std::set<std::string>{e1.id});
  // Dead-lettered after its schedule: e2 goes, numbered 2 (the gap shows the loss of 1).
  ASSERT_TRUE(sink.wait_for_delivered(1));
  auto after = sink.requests();
  EXPECT_EQ(after.back().header("webhook-id"), e2.id);
  EXPECT_EQ(after.back().header("tresse-sequence"), "2");
  ASSERT_TRUE(eventually_true(
      [&] { return call("GET", base + "/ordered_backlog", key).body["waiting"] == 0; }));

  // A manual retry of e1 goes to the back of apt_x's queue, with a new number.
  healthy = true;
  api_reply retry;
  ASSERT_TRUE(eventually_true([&] {
    retry = call("POST", base + "/deliveries/" + e1.id + "/retry", key);
    return retry.status != 409;
  }));
  ASSERT_EQ(retry.status, 202u) << retry.raw.body;
  ASSERT_TRUE(sink.wait_for_delivered(2));
  auto last = sink.requests().back();
  EXPECT_EQ(last.header("webhook-id"), e1.id);
  EXPECT_EQ(last.header("tresse-sequence"), "3");

  // e2 waited behind e1 before its first attempt: its body was kept with that attempt, so it
  // too can be retried (to the back, as 4).
  const std::size_t before_e2 = sink.count();
  auto again = call("POST", base + "/deliveries/" + e2.id + "/retry", key);
  ASSERT_EQ(again.status, 202u) << again.raw.body;
  ASSERT_TRUE(sink.wait_for_count(before_e2 + 1));
  last = sink.requests().back();
  EXPECT_EQ(last.header("webhook-id"), e2.id);
  EXPECT_EQ(last.header("tresse-sequence"), "4");
}

TEST_F(ApiTest, ReplayRedeliversExactlyTheWindow) {
  recording_sink sink;
  start_api({"api.allow_http=true"});
  std::string key = create_key("biz_w", "live");
  auto ep = create_webhook(key, sink.url(), json::array({"appointment.*"}));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  auto batch = [&](int n) {
    std::vector<events::event> evs;
    for (int i = 0; i < n; ++i) evs.push_back(make_event("appointment.created", "biz_w"));
    return evs;
  };
  auto before = batch(3);
  publish(before);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto since = std::chrono::system_clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto inside = batch(4);
  publish(inside);
  // In the window but not for this endpoint: another business, an unsubscribed type.
  publish({make_event("appointment.created", "biz_other"), make_event("client.created", "biz_w")});
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto until = std::chrono::system_clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto after = batch(3);
  publish(after);
  ASSERT_TRUE(sink.wait_for_delivered(10));

  auto r = call("POST", "/v1/webhooks/" + ep["id"].get<std::string>() + "/replay", key,
                json{{"since", rfc3339_ms(since)}, {"until", rfc3339_ms(until)}}.dump());
  ASSERT_EQ(r.status, 202u) << r.raw.body;
  std::string replay = r.body["id"];
  EXPECT_TRUE(replay.starts_with("rpl_"));
  json progress;
  ASSERT_TRUE(eventually_true([&] {
    progress = call("GET", "/v1/replays/" + replay, key).body;
    return progress.value("status", "") != "running";
  })) << progress.dump();
  EXPECT_EQ(progress["status"], "completed") << progress.dump();
  EXPECT_EQ(progress["matched"], 4);
  EXPECT_EQ(progress["scheduled"], 4);
  EXPECT_GE(progress["scanned"].get<int>(), 6);
  ASSERT_TRUE(sink.wait_for_count(14)) << sink.count();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::map<std::string, int> times;
  for (const auto& req : sink.requests()) ++times[req.header("webhook-id")];
  for (const auto& ev : before) EXPECT_EQ(times[ev.id], 1) << "before the window: " << ev.id;
  for (const auto& ev : inside) EXPECT_EQ(times[ev.id], 2) << "in the window: " << ev.id;
  for (const auto& ev : after) EXPECT_EQ(times[ev.id], 1) << "after the window: " << ev.id;
  EXPECT_EQ(sink.count(), 14u);
  // Another business cannot read this replay, nor the same business's key of the other mode.
  expect_error(call("GET", "/v1/replays/" + replay, create_key("biz_x", "live")), 404,
               "not_found");
  expect_error(call("GET", "/v1/replays/" + replay, create_key("biz_w", "test")), 404,
               "not_found");
}

TEST_F(ApiTest, ReplayRefusesAWindowBeginningBeforeWhatKafkaStillHolds) {
  recording_sink sink;
  start_api({"api.allow_http=true"});
  std::string key = create_key("biz_w", "live");
  auto ep = create_webhook(key, sink.url(), json::array({"appointment.*"}));
  const std::string replay = "/v1/webhooks/" + ep["id"].get<std::string>() + "/replay";
  const auto begin = std::chrono::system_clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  publish({make_event("appointment.created", "biz_w")});
  // 7 MB more on biz_w's partition: the mock cluster drops its oldest records, that event too,
  // as retention would on a broker.
  const std::string big(100 * 1000, 'x');
  for (int i = 0; i < 70; ++i) produce_raw("biz_w", big);
  const auto end = std::chrono::system_clock::now();

  auto refused = call("POST", replay, key,
                      json{{"since", rfc3339_ms(begin)}, {"until", rfc3339_ms(end)}}.dump());
  expect_error(refused, 400, "invalid_request", "the earliest time that can be replayed is ");
  std::string message = refused.body["error"].value("message", "");
  std::smatch named;
  ASSERT_TRUE(std::regex_search(message, named, std::regex(R"(replayed is (\S+Z)$)"))) << message;
  auto earliest = tresse::events::parse_rfc3339(named[1].str());
  ASSERT_TRUE(earliest) << named[1];
  EXPECT_GT(*earliest, begin + std::chrono::seconds(1));
  EXPECT_LE(*earliest, end + std::chrono::seconds(1));

  // From the time it names, the window is accepted and replays what is left.
  auto r = call("POST", replay, key,
                json{{"since", named[1].str()},
                     {"until", rfc3339_ms(std::chrono::system_clock::now() + 1min)}}
                    .dump());
  EXPECT_EQ(r.status, 202u) << r.raw.body;
}

// The token of a portal session's console URL ("…/console/#session=ps_…").
std::string session_token(const json& created) {
  std::string url = created.value("url", "");
  auto at = url.find("#session=");
  return at == std::string::npos ? "" : url.substr(at + 9);
}

TEST_F(ApiTest, PortalSessionActsForItsBusinessAndModeOnly) {
  start_api({"api.allow_http=true"});
  std::string live = create_key("biz_p", "live");
  std::string test = create_key("biz_p", "test");
  std::string other = create_key("biz_q", "live");
  auto mine = create_webhook(live, "http://127.0.0.1:9/mine");
  create_webhook(test, "http://127.0.0.1:9/test-mode");
  auto theirs = create_webhook(other, "http://127.0.0.1:9/theirs");
  const std::string host = "127.0.0.1:" + std::to_string(api_port_);

  const auto before = std::chrono::system_clock::now();
  auto made = call("POST", "/v1/portal_sessions", live, "", {{"Host", host}});
  ASSERT_EQ(made.status, 201u) << made.raw.body;
  EXPECT_EQ(made.body["object"], "portal_session");
  EXPECT_EQ(made.body["read_only"], false);
  EXPECT_EQ(made.body["livemode"], true);
  std::string token = session_token(made.body);
  EXPECT_TRUE(made.body["url"].get<std::string>().starts_with("http://" + host + "/console/#session=ps_"))
      << made.body.dump();
  auto expires = events::parse_rfc3339(made.body["expires_at"].get<std::string>());
  ASSERT_TRUE(expires);
  EXPECT_GE(*expires, before + std::chrono::seconds(899));
  EXPECT_LE(*expires, std::chrono::system_clock::now() + std::chrono::seconds(901));

  // The token is a Bearer credential for that business and mode, and nothing else.
  auto listed = list_all("/v1/webhooks", token, 10);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["id"], mine["id"]);
  expect_error(call("GET", "/v1/webhooks/" + theirs["id"].get<std::string>(), token), 404,
               "not_found");
  auto changed = call("PATCH", "/v1/webhooks/" + mine["id"].get<std::string>(), token,
                      R"({"description":"from the portal"})");
  EXPECT_EQ(changed.status, 200u) << changed.raw.body;
  auto current = call("GET", "/v1/portal_sessions/current", token);
  ASSERT_EQ(current.status, 200u) << current.raw.body;
  EXPECT_EQ(current.body["id"], made.body["id"]);
  EXPECT_EQ(current.body["read_only"], false);
  EXPECT_EQ(current.body["expires_at"], made.body["expires_at"]);
  expect_error(call("GET", "/v1/portal_sessions/current", live), 404, "not_found");

  // A session makes no sessions, however the path is spelled.
  expect_error(call("POST", "/v1/portal_sessions", token), 403, "forbidden", "portal session");
  {
    // Not recorded for the OpenAPI check: the document names the path as it is meant.
    http_client client("127.0.0.1", api_port_);
    auto encoded = client.request("POST", "/v1/portal%5Fsessions",
                                  {{"Authorization", "Bearer " + token}}, "");
    EXPECT_EQ(encoded.status, 403u) << encoded.body;
  }

  // A test key's session sees the test-mode endpoint only.
  auto test_made = call("POST", "/v1/portal_sessions", test, R"({"ttl_seconds": 60})");
  ASSERT_EQ(test_made.status, 201u) << test_made.raw.body;
  EXPECT_EQ(test_made.body["livemode"], false);
  auto test_listed = list_all("/v1/webhooks", session_token(test_made.body), 10);
  ASSERT_EQ(test_listed.size(), 1u);
  EXPECT_EQ(test_listed[0]["livemode"], false);

  // Bad input is a 400 naming the field, and makes no session.
  expect_error(call("POST", "/v1/portal_sessions", live, R"({"ttl_seconds": 0})"), 400,
               "invalid_request", "ttl_seconds");
  expect_error(call("POST", "/v1/portal_sessions", live, R"({"ttl_seconds": 86401})"), 400,
               "invalid_request", "ttl_seconds");
  expect_error(call("POST", "/v1/portal_sessions", live, R"({"read_only": "yes"})"), 400,
               "invalid_request", "read_only");
  expect_error(call("POST", "/v1/portal_sessions", live, R"({"scope": "all"})"), 400,
               "invalid_request", "scope");
  expect_error(call("POST", "/v1/portal_sessions", live, "", {{"Host", "evil.com/x?"}}), 400,
               "invalid_request", "Host");
  expect_error(call("GET", "/v1/portal_sessions", live), 405, "method_not_allowed");
  // Behind a TLS proxy the URL is https.
  auto proxied = call("POST", "/v1/portal_sessions", live, "",
                      {{"Host", "dash.example.com"}, {"X-Forwarded-Proto", "https"}});
  ASSERT_EQ(proxied.status, 201u);
  EXPECT_TRUE(proxied.body["url"].get<std::string>().starts_with(
      "https://dash.example.com/console/#session=ps_"));

  // The token never appears in the dispatcher's log.
  EXPECT_EQ(dispatchers_.back()->log_text().find(token), std::string::npos);

  // Revoking the key ends the sessions it made, at once.
  auto key_list = cli({"keys", "list", "--business", "biz_p"});
  for (const auto& k : key_list["data"]) {
    if (k["mode"] == "live") cli({"keys", "revoke", "--id", k["id"].get<std::string>()});
  }
  expect_error(call("GET", "/v1/webhooks", token), 401, "invalid_api_key");
}

TEST_F(ApiTest, ReadOnlyPortalSessionGets403OnEveryWrite) {
  start_api({"api.allow_http=true"});
  std::string key = create_key("biz_r", "live");
  auto ep = create_webhook(key, "http://127.0.0.1:9/r");
  std::string path = "/v1/webhooks/" + ep["id"].get<std::string>();
  auto made = call("POST", "/v1/portal_sessions", key, R"({"read_only": true, "ttl_seconds": 600})");
  ASSERT_EQ(made.status, 201u) << made.raw.body;
  EXPECT_EQ(made.body["read_only"], true);
  std::string ro = session_token(made.body);

  EXPECT_EQ(call("GET", "/v1/webhooks", ro).status, 200u);
  EXPECT_EQ(call("GET", path, ro).status, 200u);
  EXPECT_EQ(call("GET", path + "/deliveries", ro).status, 200u);
  EXPECT_EQ(call("GET", "/v1/event_types", ro).status, 200u);
  auto current = call("GET", "/v1/portal_sessions/current", ro);
  EXPECT_EQ(current.status, 200u);
  EXPECT_EQ(current.body["read_only"], true);
  struct write { std::string method, target, body; };
  for (const auto& w : std::vector<write>{
           {"POST", "/v1/webhooks", R"({"url":"http://127.0.0.1:9/x","events":["*"]})"},
           {"PATCH", path, R"({"enabled":false})"},
           {"DELETE", path, ""},
           {"POST", path + "/rotate_secret", ""},
           {"POST", path + "/test", ""},
           {"POST", path + "/replay", R"({"since":"2026-01-01T00:00:00Z","until":"2026-01-01T01:00:00Z"})"},
           {"POST", path + "/deliveries/evt_1/retry", ""},
           {"POST", "/v1/portal_sessions", ""}}) {
    SCOPED_TRACE(w.method + " " + w.target);
    expect_error(call(w.method, w.target, ro, w.body), 403, "forbidden");
  }
  // Nothing changed.
  auto still = call("GET", path, key);
  EXPECT_EQ(still.body["enabled"], true);
  EXPECT_EQ(list_all("/v1/webhooks", key, 10).size(), 1u);
}

TEST_F(ApiTest, ExpiredPortalSessionIsRefused) {
  start_api({"api.allow_http=true"});
  std::string key = create_key("biz_e", "live");
  auto made = call("POST", "/v1/portal_sessions", key, R"({"ttl_seconds": 1})");
  ASSERT_EQ(made.status, 201u) << made.raw.body;
  std::string token = session_token(made.body);
  EXPECT_EQ(call("GET", "/v1/webhooks", token).status, 200u);
  // Redis expires the record: within a few seconds the token is unknown.
  unsigned status = 200;
  for (int i = 0; i < 50 && status == 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    status = call("GET", "/v1/webhooks", token).status;
  }
  expect_error(call("GET", "/v1/webhooks", token), 401, "invalid_api_key", "expired");
  // A made-up token of the right shape is as unknown.
  expect_error(call("GET", "/v1/webhooks", "ps_" + std::string(43, 'A')), 401, "invalid_api_key");
}

TEST_F(ApiTest, ConsoleIsServedOnTheApiListenerWithStrictHeaders) {
  start_api({"api.allow_http=true", "api.console_frame_ancestors='self' https://dash.example.com"});
  auto get = [&](const std::string& target, http_headers headers = {}) {
    http_client client("127.0.0.1", api_port_);
    return client.request("GET", target, headers, "");
  };
  auto page = get("/console/");
  ASSERT_EQ(page.status, 200u);
  EXPECT_EQ(page.header("Content-Type"), "text/html; charset=utf-8");
  const std::string csp = page.header("Content-Security-Policy");
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'self' https://dash.example.com"), std::string::npos) << csp;
  EXPECT_EQ(page.header("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(page.header("Cache-Control"), "no-cache");
  EXPECT_TRUE(page.header("X-RateLimit-Limit").empty()) << "static files are not API calls";
  auto cached = get("/console/", {{"If-None-Match", page.header("ETag")}});
  EXPECT_EQ(cached.status, 304u);
  EXPECT_EQ(get("/console").status, 301u);
  EXPECT_EQ(get("/console/missing.js").status, 404u);

  // Every script the page loads, and every module those import, is served as JavaScript.
  std::set<std::string> seen, todo{"/console/app.js"};
  const std::regex import_re(R"(from '\./([a-z_]+\.js)')");
  while (!todo.empty()) {
    std::string target = *todo.begin();
    todo.erase(todo.begin());
    if (!seen.insert(target).second) continue;
    auto js = get(target);
    SCOPED_TRACE(target);
    ASSERT_EQ(js.status, 200u);
    EXPECT_EQ(js.header("Content-Type"), "text/javascript; charset=utf-8");
    for (std::sregex_iterator it(js.body.begin(), js.body.end(), import_re), end; it != end; ++it) {
      todo.insert("/console/" + (*it)[1].str());
    }
  }
  EXPECT_GE(seen.size(), 5u);
  auto css = get("/console/style.css");
  EXPECT_EQ(css.status, 200u);
  EXPECT_EQ(css.header("Content-Type"), "text/css; charset=utf-8");
  // The API still answers beside it.
  EXPECT_EQ(call("GET", "/v1/webhooks", "").status, 401u);
}

}  // namespace
}  // namespace tresse::test
