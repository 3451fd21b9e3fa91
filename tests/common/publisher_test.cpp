#include "tresse/common/publisher.hpp"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/kafka_cluster.hpp"

namespace tresse::events {
namespace {

using namespace std::chrono_literals;

TEST(PublisherTest, MakeEventBuildsAValidEnvelopeInDocumentedOrder) {
  auto t = std::chrono::system_clock::time_point(std::chrono::seconds(1776594720));
  auto ev = make_event({.type = "client.created",
                        .business_id = "biz_1",
                        .data_json = R"({"id":"cli_1","name":"Ana"})",
                        .id = "evt_fixed",
                        .livemode = false,
                        .timestamp = t});
  ASSERT_TRUE(ev) << ev.error().message;
  EXPECT_EQ(ev->raw,
            R"({"id":"evt_fixed","type":"client.created","business_id":"biz_1","livemode":false,)"
            R"("timestamp":"2026-04-19T10:32:00Z","data":{"id":"cli_1","name":"Ana"}})");
}

TEST(PublisherTest, MakeEventRefusesBadFields) {
  EXPECT_EQ(make_event({.type = "nope", .business_id = "biz_1"}).error().message,
            "unknown event type 'nope'");
  EXPECT_EQ(make_event({.type = "client.created", .business_id = "biz_1", .data_json = "[1]"})
                .error()
                .message,
            "data must be a JSON object");
  EXPECT_EQ(make_event({.type = "client.created", .business_id = "biz_1", .data_json = "{"})
                .error()
                .message,
            "data must be a JSON object");
  EXPECT_EQ(make_event({.type = "client.created", .business_id = ""}).error().message,
            "field 'business_id' must match [A-Za-z0-9_-]{1,128}");
}

TEST(PublisherTest, PublishesKeyedByBusinessInOrderPerBusiness) {
  test::kafka_cluster kafka;
  auto pub = publisher::create({.brokers = kafka.bootstrap()});
  ASSERT_TRUE(pub) << pub.error().message;
  std::vector<std::string> businesses = {"biz_a", "biz_b", "biz_c", "biz_d", "biz_e"};
  std::map<std::string, std::vector<std::string>> sent;  // business -> ids in publish order
  for (int i = 0; i < 50; ++i) {
    const std::string& biz = businesses[i % businesses.size()];
    auto ev = make_event({.type = "appointment.updated",
                          .business_id = biz,
                          .data_json = R"({"seq":)" + std::to_string(i) + "}"});
    ASSERT_TRUE(ev);
    ASSERT_TRUE((*pub)->publish(*ev));
    sent[biz].push_back(ev->id);
  }
  ASSERT_TRUE((*pub)->flush(10s));
  EXPECT_EQ((*pub)->counts().delivered, 50u);

  auto records = kafka.read("tresse.events", 50);
  ASSERT_EQ(records.size(), 50u);
  std::map<std::string, std::vector<std::string>> received;
  std::map<std::string, std::int32_t> partition_of;
  for (const auto& r : records) {
    auto ev = parse_event(r.value);
    ASSERT_TRUE(ev) << r.value;
    EXPECT_EQ(r.key, ev->business_id);
    auto [it, inserted] = partition_of.emplace(r.key, r.partition);
    EXPECT_EQ(it->second, r.partition) << "one business, one partition";
    received[r.key].push_back(ev->id);
  }
  EXPECT_EQ(received, sent);
}

TEST(PublisherTest, RefusesInvalidBytesAndSendsNothing) {
  test::kafka_cluster kafka;
  auto pub = publisher::create({.brokers = kafka.bootstrap()});
  ASSERT_TRUE(pub);
  auto r = (*pub)->publish(R"({"id":"evt_1"})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, error_kind::permanent);
  EXPECT_EQ(r.error().message, "missing field 'type'");
  EXPECT_EQ((*pub)->counts().enqueued, 0u);
}

TEST(PublisherTest, WithValidateDataRefusesDataThatDoesNotMatchItsSchema) {
  test::kafka_cluster kafka;
  auto pub = publisher::create({.brokers = kafka.bootstrap(), .validate_data = true});
  ASSERT_TRUE(pub);
  auto bad = make_event({.type = "appointment.canceled", .business_id = "biz_1",
                         .data_json = R"({"id":"apt_1","status":"canceled"})"});
  ASSERT_TRUE(bad);
  auto st = (*pub)->publish(*bad);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, error_kind::permanent);
  EXPECT_EQ(st.error().message, "data.client_id: required field missing");
  EXPECT_EQ((*pub)->counts().enqueued, 0u);
  auto good = make_event({.type = "webhook.test", .business_id = "biz_1",
                          .data_json = R"({"endpoint_id":"we_1"})"});
  ASSERT_TRUE(good);
  EXPECT_TRUE((*pub)->publish(*good));
  EXPECT_EQ((*pub)->counts().enqueued, 1u);
}

TEST(PublisherTest, PublishesRawBytesUnchanged) {
  test::kafka_cluster kafka;
  auto pub = publisher::create({.brokers = kafka.bootstrap(), .topic = "tresse.webhooks.ops"});
  ASSERT_TRUE(pub);
  std::string bytes =
      "{ \"id\": \"evt_raw\", \"type\": \"webhook.test\", \"business_id\": \"biz_1\",\n"
      "  \"livemode\": true, \"timestamp\": \"2026-04-19T10:32:00Z\", \"data\": {} }";
  ASSERT_TRUE((*pub)->publish(bytes));
  ASSERT_TRUE((*pub)->flush(10s));
  auto records = kafka.read("tresse.webhooks.ops", 1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].value, bytes);
  EXPECT_EQ(records[0].key, "biz_1");
}

TEST(PublisherTest, FlushReportsUndeliverableEvents) {
  // Nothing listens on port 1: the message times out and flush says so.
  auto pub = publisher::create({.brokers = "127.0.0.1:1", .message_timeout = 300ms});
  ASSERT_TRUE(pub);
  auto ev = make_event({.type = "client.deleted", .business_id = "biz_1"});
  ASSERT_TRUE((*pub)->publish(*ev));
  auto st = (*pub)->flush(5s);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("timed out"), std::string::npos) << st.error().message;
  EXPECT_EQ((*pub)->counts().failed, 1u);
}

}  // namespace
}  // namespace tresse::events
