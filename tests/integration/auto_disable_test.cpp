// End to end: endpoint health events. An endpoint whose deliveries keep ending dead-lettered
// gets webhook_endpoint.failing on the ops topic, then, failing on, is disabled
// (webhook_endpoint.disabled); a receiver answering `webhook-delivery: disable` disables its
// endpoint at once.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace tresse::test {
namespace {

using json = nlohmann::json;

class AutoDisableTest : public integration_test {
 protected:
  std::vector<json> ops_events(std::size_t n, std::chrono::milliseconds timeout = eventually) {
    std::vector<json> out;
    for (const auto& r : kafka_.read(ops_topic(), n, timeout)) {
      out.push_back(json::parse(r.value));
      EXPECT_EQ(r.key, out.back().value("business_id", "")) << r.value;
    }
    return out;
  }
};

TEST_F(AutoDisableTest, WarnsThenDisablesAContinuouslyFailingEndpoint) {
  recording_sink sink([](const received_request&) { return sink_reply{.status = 500}; });
  recording_sink control;
  auto ep = create_endpoint("biz_ad", sink.url(), "*");
  create_endpoint("biz_ad", control.url(), "*");
  auto& d =
      start_dispatcher({"delivery.retry_schedule=100ms,100ms", "delivery.breaker_failures=0",
                        "delivery.warn_after_dead_letters=2", "delivery.auto_disable_after=2s"});
  publish({make_event("client.created", "biz_ad"), make_event("client.created", "biz_ad")});
  ASSERT_TRUE(d.wait_for_log("endpoint failing")) << d.log_text();

  // Keep it failing until the span has passed and it is disabled.
  json got;
  ASSERT_TRUE(eventually_true([&] {
    publish({make_event("client.updated", "biz_ad")});
    std::this_thread::sleep_for(250ms);
    got = get_endpoint(ep.id);
    return got.value("enabled", true) == false;
  })) << got.dump();
  EXPECT_EQ(got["disabled_reason"], "failing_continuously");
  EXPECT_TRUE(d.wait_for_log("endpoint disabled"));

  auto evs = ops_events(2);
  ASSERT_EQ(evs.size(), 2u);
  EXPECT_EQ(evs[0]["type"], "webhook_endpoint.failing") << evs[0].dump();
  EXPECT_EQ(evs[0]["business_id"], "biz_ad");
  EXPECT_EQ(evs[0]["data"]["endpoint_id"], ep.id);
  EXPECT_EQ(evs[0]["data"]["consecutive_dead_lettered"], 2);
  EXPECT_EQ(evs[0]["data"]["url"], sink.url());
  EXPECT_EQ(evs[1]["type"], "webhook_endpoint.disabled") << evs[1].dump();
  EXPECT_EQ(evs[1]["data"]["endpoint_id"], ep.id);
  EXPECT_EQ(evs[1]["data"]["reason"], "failing_continuously");
  EXPECT_TRUE(evs[1]["data"].contains("failing_since")) << evs[1].dump();
  // Exactly one of each (the warning once per streak, the disable once).
  EXPECT_EQ(ops_events(3, 2s).size(), 2u);
  EXPECT_GT(control.count(), 0u);  // the healthy endpoint of the same business kept receiving
}

TEST_F(AutoDisableTest, DisableHeaderDisablesTheEndpoint) {
  recording_sink sink([](const received_request&) {
    return sink_reply{.status = 200, .headers = {{"webhook-delivery", "disable"}}};
  });
  auto ep = create_endpoint("biz_dh", sink.url(), "*");
  auto& d = start_dispatcher();
  publish({make_event("client.created", "biz_dh"), make_event("client.created", "biz_dh"),
           make_event("client.created", "biz_dh")});
  ASSERT_TRUE(sink.wait_for_count(1));
  json got;
  ASSERT_TRUE(eventually_true([&] {
    got = get_endpoint(ep.id);
    return got.value("enabled", true) == false;
  })) << got.dump();
  EXPECT_EQ(got["disabled_reason"], "disable_requested");

  auto evs = ops_events(1);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0]["type"], "webhook_endpoint.disabled");
  EXPECT_EQ(ops_events(2, 2s).size(), 1u);  // once, however many attempts were told
  EXPECT_EQ(evs[0]["data"]["endpoint_id"], ep.id);
  EXPECT_EQ(evs[0]["data"]["reason"], "disable_requested");

  // Once the dispatcher's cache has it, nothing more goes there.
  auto port = d.admin_port();
  ASSERT_TRUE(eventually_true([&] {
    publish({make_event("client.updated", "biz_dh")});
    return http_get(port, "/metrics").second.find("tresse_events_unmatched_total 0") ==
           std::string::npos;
  }));
  // Only the three first attempts made before the disable; none of the later events.
  EXPECT_LE(sink.count(), 3u);
}

}  // namespace
}  // namespace tresse::test
