// End to end: events published on Kafka reach the subscribed HTTP endpoints, signed, and the
// endpoints' answers (5xx, 3xx, 410, 429) drive retries and the endpoint's state.
#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "redis/client.hpp"
#include "redis/keys.hpp"
#include "support/process.hpp"

namespace tresse::test {
namespace {

using json = nlohmann::json;

class DeliveryTest : public integration_test {};

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t to_int(const std::string& s) {
  std::int64_t v = -1;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size() ? v : -1;
}

std::vector<std::string> ids_of(const std::vector<received_request>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) out.push_back(r.header("webhook-id"));
  std::sort(out.begin(), out.end());
  return out;
}

// The headers DESIGN.md promises, the body exactly as published, and a signature by `secret`
// (and by no other endpoint's secret).
void expect_webhook(const received_request& r, const std::string& published_body,
                    const std::string& type, const std::string& secret,
                    const std::string& other_secret) {
  SCOPED_TRACE("webhook-id " + r.header("webhook-id"));
  auto body = json::parse(published_body);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/hook");
  EXPECT_EQ(r.body, published_body);  // byte for byte
  EXPECT_EQ(r.header("webhook-id"), body["id"].get<std::string>());
  EXPECT_EQ(r.header("tresse-event-type"), type);
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_TRUE(r.header("user-agent").starts_with("Tresse-Webhooks/")) << r.header("user-agent");
  auto ts = to_int(r.header("webhook-timestamp"));
  EXPECT_LE(std::abs(ts - unix_now()), 120) << r.header("webhook-timestamp");
  auto entries = signature_entries(r.header("webhook-signature"));
  ASSERT_EQ(entries.size(), 1u) << r.header("webhook-signature");
  EXPECT_TRUE(entries[0].starts_with("v1,"));
  auto ok = verify(r, {secret});
  EXPECT_TRUE(ok) << ok.message;
  EXPECT_FALSE(verify(r, {other_secret}));
}

TEST_F(DeliveryTest, FansOutToMatchingEndpointsSignedAndByteIdentical) {
  recording_sink appointments, client_created, everything;
  auto a = create_endpoint("biz_fan", appointments.url(), "appointment.*");
  auto b = create_endpoint("biz_fan", client_created.url(), "client.created");
  auto c = create_endpoint("biz_fan", everything.url(), "*");

  // Published with tresse-publish, as the platform would, in deliberately unusual but valid
  // formatting: the endpoints must get these exact bytes, never a re-serialization.
  struct published {
    std::string id, type, business, line;
  };
  std::vector<published> evs;
  auto add = [&](std::string id, std::string type, std::string business, std::string data) {
    std::string line = R"({ "id" : ")" + id + R"(", "type":")" + type + R"(", "business_id": ")" +
                       business + R"(", "livemode":true,"timestamp":"2026-04-19T10:32:00Z",)" +
                       R"( "data": )" + data + "}";
    evs.push_back({id, type, business, line});
  };
  add("evt_fan_1", "appointment.created", "biz_fan",
      R"({"id":"apt_1","note":"caf\u00e9 ☕","n":1.50})");
  add("evt_fan_2", "client.created", "biz_fan", R"({"id":"cli_1", "tags":[ ]})");
  add("evt_fan_3", "appointment.canceled", "biz_fan", R"({"id":"apt_2","x":1e2})");
  add("evt_fan_4", "client.updated", "biz_fan", R"({"id":"cli_1"})");
  add("evt_fan_5", "client.deleted", "biz_fan", R"({"id":"cli_1"})");
  add("evt_fan_6", "appointment.created", "biz_other", R"({"id":"apt_9"})");  // nobody's
  std::string lines;
  for (const auto& e : evs) lines += e.line + "\n";

  start_dispatcher();
  auto pub = run_process({TRESSE_PUBLISH_BIN, "--brokers", kafka_.bootstrap()}, lines, 60s);
  ASSERT_EQ(pub.exit_code, 0) << pub.err;

  ASSERT_TRUE(appointments.wait_for_count(2));
  ASSERT_TRUE(client_created.wait_for_count(1));
  ASSERT_TRUE(everything.wait_for_count(5));
  // A last event for all three: once it is in, nothing else can still be on its way (same
  // business key, same partition, handled in order).
  auto marker = make_event("client.created", "biz_fan");
  publish({marker});
  ASSERT_TRUE(client_created.wait_for_count(2));
  ASSERT_TRUE(everything.wait_for_count(6));

  auto expect_ids = [](const recording_sink& s, std::vector<std::string> want) {
    std::sort(want.begin(), want.end());
    EXPECT_EQ(ids_of(s.requests()), want);
  };
  expect_ids(appointments, {"evt_fan_1", "evt_fan_3"});
  expect_ids(client_created, {"evt_fan_2", marker.id});
  expect_ids(everything,
             {"evt_fan_1", "evt_fan_2", "evt_fan_3", "evt_fan_4", "evt_fan_5", marker.id});

  auto check = [&](const recording_sink& s, const endpoint_info& ep, const std::string& other) {
    for (const auto& r : s.requests()) {
      auto it = std::find_if(evs.begin(), evs.end(),
                             [&](const published& e) { return e.id == r.header("webhook-id"); });
      if (it == evs.end()) {
        expect_webhook(r, marker.raw, marker.type, ep.secret, other);
      } else {
        expect_webhook(r, it->line, it->type, ep.secret, other);
      }
    }
  };
  check(appointments, a, c.secret);
  check(client_created, b, a.secret);
  check(everything, c, b.secret);
}

TEST_F(DeliveryTest, RetriesFailuresWithTheSameIdAndAFreshSignature) {
  auto ev = make_event("appointment.created", "biz_retry");
  auto marker = make_event("appointment.updated", "biz_retry");
  recording_sink sink([id = ev.id](const received_request& r) {
    return sink_reply{.status = r.header("webhook-id") == id && r.attempt < 3 ? 500u : 200u};
  });
  auto ep = create_endpoint("biz_retry", sink.url(), "*");
  // Over a second apart, so every attempt has its own webhook-timestamp.
  start_dispatcher({"delivery.retry_schedule=1100ms,1100ms,1100ms"});
  publish({ev});

  ASSERT_TRUE(sink.wait_for_count(3));
  publish({marker});
  ASSERT_TRUE(sink.wait_for_delivered(2));

  std::vector<received_request> tries;
  for (const auto& r : sink.requests()) {
    if (r.header("webhook-id") == ev.id) tries.push_back(r);
  }
  ASSERT_EQ(tries.size(), 3u);  // delivered once: no attempt after the 200
  EXPECT_EQ(tries[0].answered, 500u);
  EXPECT_EQ(tries[1].answered, 500u);
  EXPECT_EQ(tries[2].answered, 200u);
  for (std::size_t i = 0; i < tries.size(); ++i) {
    EXPECT_EQ(tries[i].body, ev.raw);
    auto ok = verify(tries[i], {ep.secret});
    EXPECT_TRUE(ok) << "attempt " << i + 1 << ": " << ok.message;
    if (i > 0) {
      EXPECT_GT(to_int(tries[i].header("webhook-timestamp")),
                to_int(tries[i - 1].header("webhook-timestamp")));
      EXPECT_NE(tries[i].header("webhook-signature"), tries[i - 1].header("webhook-signature"));
    }
  }

  json log;
  ASSERT_TRUE(eventually_true([&] {
    log = json::array();
    for (auto& a : attempts(ep.id)) {
      if (a["event_id"] == ev.id) log.push_back(a);
    }
    return log.size() >= 3;
  })) << log.dump();
  ASSERT_EQ(log.size(), 3u) << log.dump();
  std::vector<int> numbers, statuses;
  for (const auto& a : log) {
    numbers.push_back(a["attempt"].get<int>());
    statuses.push_back(a["status"].is_number() ? a["status"].get<int>() : 0);
  }
  std::vector<std::pair<int, int>> by_number;
  for (std::size_t i = 0; i < numbers.size(); ++i) by_number.emplace_back(numbers[i], statuses[i]);
  std::sort(by_number.begin(), by_number.end());
  EXPECT_EQ(by_number, (std::vector<std::pair<int, int>>{{1, 500}, {2, 500}, {3, 200}}));
}

TEST_F(DeliveryTest, DoesNotFollowRedirects) {
  recording_sink target;
  recording_sink redirecting([url = target.url()](const received_request&) {
    return sink_reply{.status = 302, .headers = {{"Location", url}}};
  });
  auto ep = create_endpoint("biz_redirect", redirecting.url(), "*");
  start_dispatcher();
  auto ev = make_event("client.created", "biz_redirect");
  publish({ev});

  // Every scheduled attempt goes to the endpoint itself, then the delivery is dead-lettered.
  auto dead = kafka_.read(dead_letter_topic(), 1, eventually);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(json::parse(dead[0].value).value("endpoint_id", ""), ep.id);
  EXPECT_EQ(redirecting.count(), 4u);
  EXPECT_EQ(target.count(), 0u);
  auto log = attempts(ep.id);
  ASSERT_FALSE(log.empty());
  for (const auto& a : log) {
    EXPECT_EQ(a["status"], 302) << a.dump();
    EXPECT_TRUE(a["error"].is_null()) << "a response came: the status says what" << a.dump();
  }
}

TEST_F(DeliveryTest, GoneDisablesTheEndpoint) {
  recording_sink gone([](const received_request&) { return sink_reply{.status = 410}; });
  recording_sink control;
  auto g = create_endpoint("biz_gone", gone.url(), "*");
  create_endpoint("biz_gone", control.url(), "*");
  start_dispatcher();
  publish({make_event("client.created", "biz_gone")});

  ASSERT_TRUE(gone.wait_for_count(1));
  ASSERT_TRUE(control.wait_for_count(1));
  json ep;
  ASSERT_TRUE(eventually_true([&] {
    ep = get_endpoint(g.id);
    return ep.value("enabled", true) == false;
  })) << ep.dump();
  EXPECT_FALSE(ep["disabled_reason"].is_null()) << ep.dump();

  // The dispatcher's registry cache refreshes every 100 ms: give it a few rounds to see it.
  std::this_thread::sleep_for(500ms);
  publish({make_event("client.updated", "biz_gone")});
  ASSERT_TRUE(control.wait_for_count(2));
  EXPECT_EQ(gone.count(), 1u);  // neither a retry of the first nor the second event
  EXPECT_EQ(attempts(g.id).size(), 1u);
}

TEST_F(DeliveryTest, HonoursRetryAfterOn429) {
  recording_sink sink([](const received_request& r) {
    if (r.attempt == 1) return sink_reply{.status = 429, .headers = {{"Retry-After", "1"}}};
    return sink_reply{};
  });
  create_endpoint("biz_429", sink.url(), "*");
  // The schedule alone would retry after 200 ms; its longest delay (5 s) bounds the hint.
  start_dispatcher({"delivery.retry_schedule=200ms,5s"});
  publish({make_event("appointment.created", "biz_429")});

  ASSERT_TRUE(sink.wait_for_count(2));
  auto rs = sink.requests();
  auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(rs[1].at - rs[0].at);
  EXPECT_GE(gap, 1000ms);
  EXPECT_LT(gap, 4000ms);
  EXPECT_EQ(rs[1].answered, 200u);
}

TEST_F(DeliveryTest, RotationSignsWithBothSecrets) {
  recording_sink sink;
  auto ep = create_endpoint("biz_rot", sink.url(), "*");
  start_dispatcher();
  publish({make_event("client.created", "biz_rot")});
  ASSERT_TRUE(sink.wait_for_count(1));

  auto rotated = cli({"endpoints", "rotate-secret", "--id", ep.id});
  std::string fresh = rotated.value("secret", "");
  ASSERT_TRUE(fresh.starts_with("whsec_")) << rotated.dump();
  ASSERT_NE(fresh, ep.secret);
  ASSERT_EQ(rotated["previous_secrets"].size(), 1u) << rotated.dump();
  EXPECT_EQ(rotated["previous_secrets"][0]["secret"], ep.secret);

  // The dispatcher's registry cache refreshes every 100 ms: give it a few rounds.
  std::this_thread::sleep_for(500ms);
  publish({make_event("client.updated", "biz_rot")});
  ASSERT_TRUE(sink.wait_for_count(2));
  auto rs = sink.requests();

  EXPECT_EQ(signature_entries(rs[0].header("webhook-signature")).size(), 1u);
  EXPECT_TRUE(verify(rs[0], {ep.secret}));
  EXPECT_FALSE(verify(rs[0], {fresh}));

  auto entries = signature_entries(rs[1].header("webhook-signature"));
  ASSERT_EQ(entries.size(), 2u) << rs[1].header("webhook-signature");
  // Each entry verifies with exactly one of the two secrets, and each secret with one entry.
  int by_fresh = 0, by_old = 0;
  for (const auto& e : entries) {
    received_request one = rs[1];
    one.headers["webhook-signature"] = e;
    bool f = static_cast<bool>(verify(one, {fresh}));
    bool o = static_cast<bool>(verify(one, {ep.secret}));
    EXPECT_NE(f, o) << e;
    by_fresh += f;
    by_old += o;
  }
  EXPECT_EQ(by_fresh, 1);
  EXPECT_EQ(by_old, 1);
}

TEST_F(DeliveryTest, RefusesPrivateAddressesUnlessAllowed) {
  recording_sink sink;
  auto ep = create_endpoint("biz_ssrf", sink.url(), "*");
  start_dispatcher({}, /*allow_private_networks=*/false);
  publish({make_event("client.created", "biz_ssrf")});

  json log;
  ASSERT_TRUE(eventually_true([&] {
    log = attempts(ep.id);
    return !log.empty();
  }));
  for (const auto& a : log) {
    EXPECT_NE(a["error"].get<std::string>().find("blocked_address"), std::string::npos) << a.dump();
  }
  EXPECT_EQ(sink.count(), 0u);
}

// registry.full_refresh_interval reaches the endpoint cache: a record changed without its
// version bump (a writer that died in between) is seen at the next full reload.
TEST_F(DeliveryTest, AnEndpointChangedWithoutAVersionBumpIsSeenAtTheFullRefresh) {
  recording_sink before, after;
  auto ep = create_endpoint("biz_full", before.url(), "*");
  start_dispatcher({"registry.full_refresh_interval=300ms"});
  // Delivered to the URL it was created with: the dispatcher has loaded it.
  publish({make_event("client.created", "biz_full")});
  ASSERT_TRUE(before.wait_for_count(1));
  dispatcher::redis::client redis(*dispatcher::redis::parse_url(redis_.url()));
  const std::string key = dispatcher::redis::keys::endpoint(ep.id);
  auto record = json::parse(redis.command({"GET", key})->str);
  record["url"] = after.url();
  const auto version = redis.command({"GET", dispatcher::redis::keys::endpoints_version})->str;
  ASSERT_TRUE(redis.command({"SET", key, record.dump()}).has_value());
  std::this_thread::sleep_for(std::chrono::seconds(1));  // three full reloads
  publish({make_event("client.updated", "biz_full")});
  ASSERT_TRUE(after.wait_for_count(1));
  EXPECT_EQ(before.count(), 1u);
  EXPECT_EQ(redis.command({"GET", dispatcher::redis::keys::endpoints_version})->str, version)
      << "something bumped the version: the test shows nothing";
}

}  // namespace
}  // namespace tresse::test
