// The Management API tests' fixture: a running dispatcher with real Redis and the Kafka mock
// cluster, called over HTTP. Every response a test sees is also checked against the OpenAPI
// document (dispatcher/api/openapi.json) by tests/api/validate.mjs when the test ends.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "harness.hpp"
#include "redis/client.hpp"
#include "redis/keys.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"

namespace tresse::test {

struct api_reply {
  unsigned status = 0;
  nlohmann::json body;  // null when the body is not JSON
  http_reply raw;
  std::string header(std::string_view name) const { return raw.header(name); }
};

class ApiTest : public integration_test {
 protected:
  using json = nlohmann::json;

  // A dispatcher serving the API on a free port.
  dispatcher_process& start_api(std::vector<std::string> extra = {},
                                bool allow_private_networks = true) {
    extra.push_back("api.listen=127.0.0.1:0");
    auto& d = start_dispatcher(extra, allow_private_networks);
    api_port_ = d.api_port();
    return d;
  }

  std::string create_key(const std::string& business, const std::string& mode) {
    auto j = cli({"keys", "create", "--business", business, "--mode", mode});
    std::string secret = j.value("secret", "");
    EXPECT_TRUE(secret.starts_with("sk_" + mode + "_")) << j.dump();
    return secret;
  }

  // One request on a fresh connection, recorded for the OpenAPI check.
  api_reply call(const std::string& method, const std::string& target, const std::string& key,
                 const std::string& body = "", http_headers headers = {},
                 std::uint16_t port = 0) {
    if (!key.empty()) headers.emplace_back("Authorization", "Bearer " + key);
    http_client client("127.0.0.1", port ? port : api_port_);
    api_reply r;
    r.raw = client.request(method, target, headers, body);
    r.status = r.raw.status;
    r.body = json::parse(r.raw.body, nullptr, /*allow_exceptions=*/false);
    if (r.body.is_discarded()) r.body = nullptr;
    json recorded_headers = json::object();
    for (const auto& [k, v] : r.raw.headers) {
      std::string lower = k;
      std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
      recorded_headers[lower] = v;
    }
    exchanges_.push_back({{"method", method},
                          {"path", target},
                          {"status", r.status},
                          {"headers", recorded_headers},
                          {"body", r.body}});
    return r;
  }

  // The exact error shape of the seed: {"error": {"code", "message", "status"}} and nothing
  // else, with the rate-limit headers every response carries.
  static void expect_error(const api_reply& r, unsigned status, const std::string& code,
                           const std::string& message_part = "") {
    SCOPED_TRACE(r.raw.body);
    EXPECT_EQ(r.status, status);
    ASSERT_TRUE(r.body.is_object());
    ASSERT_EQ(r.body.size(), 1u);
    const auto& e = r.body["error"];
    ASSERT_TRUE(e.is_object());
    EXPECT_EQ(e.size(), 3u);
    EXPECT_EQ(e.value("code", ""), code);
    EXPECT_EQ(e.value("status", 0u), status);
    EXPECT_FALSE(e.value("message", "").empty());
    if (!message_part.empty()) {
      EXPECT_NE(e.value("message", "").find(message_part), std::string::npos);
    }
    EXPECT_FALSE(r.header("X-RateLimit-Limit").empty());
    EXPECT_FALSE(r.header("X-RateLimit-Remaining").empty());
    EXPECT_FALSE(r.header("X-RateLimit-Reset").empty());
  }

  // An endpoint's record as Redis holds it (to check what is sealed at rest).
  std::string stored_record(const std::string& id) {
    auto opts = dispatcher::redis::parse_url(redis_.url());
    EXPECT_TRUE(opts.has_value());
    dispatcher::redis::client redis(*opts);
    auto r = redis.command({"GET", dispatcher::redis::keys::endpoint(id)});
    EXPECT_TRUE(r.has_value());
    return r ? r->str : "";
  }

  json create_webhook(const std::string& key, const std::string& url,
                      const json& events = json::array({"*"})) {
    auto r = call("POST", "/v1/webhooks", key, json{{"url", url}, {"events", events}}.dump());
    EXPECT_EQ(r.status, 201u) << r.raw.body;
    return r.body;
  }

  // Every page of a list, following next_cursor.
  std::vector<json> list_all(const std::string& target, const std::string& key, int limit) {
    std::vector<json> out;
    std::string cursor;
    for (int guard = 0; guard < 1000; ++guard) {
      std::string sep = target.find('?') == std::string::npos ? "?" : "&";
      auto r = call("GET", target + sep + "limit=" + std::to_string(limit) +
                               (cursor.empty() ? "" : "&cursor=" + cursor),
                    key);
      EXPECT_EQ(r.status, 200u) << r.raw.body;
      if (r.status != 200) break;
      for (auto& item : r.body["data"]) out.push_back(item);
      if (!r.body["has_more"].get<bool>()) {
        EXPECT_TRUE(r.body["next_cursor"].is_null());
        break;
      }
      cursor = r.body["next_cursor"].get<std::string>();
    }
    return out;
  }

  void TearDown() override {
    // Every response seen must match the OpenAPI document.
    if (!exchanges_.empty()) {
      auto file = dir_ / "exchanges.json";
      std::ofstream(file) << json(exchanges_).dump(2);
      auto r = run_process({TRESSE_NODE_BIN, TRESSE_SOURCE_DIR "/tests/api/validate.mjs",
                            TRESSE_SOURCE_DIR "/dispatcher/api/openapi.json", file.string()},
                           {}, std::chrono::seconds(60));
      EXPECT_EQ(r.exit_code, 0) << "responses do not match the OpenAPI document:\n"
                                << r.out << r.err;
    }
    integration_test::TearDown();
  }

  std::uint16_t api_port_ = 0;
  std::vector<json> exchanges_;
};

}  // namespace tresse::test
