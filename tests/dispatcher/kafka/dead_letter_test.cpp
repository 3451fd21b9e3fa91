#include "kafka/dead_letter.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/kafka_cluster.hpp"

namespace tresse::dispatcher::kafka {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1776594720));

dead_letter sample(std::string_view original) {
  dead_letter dl;
  dl.reason = "unknown event type 'x'";
  dl.original = original;
  dl.source = {"tresse.events", 3, 1234, "biz_k"};
  return dl;
}

TEST(DeadLetterTest, EmbedsAJsonEventByteForByte) {
  std::string original = R"({ "id": "evt_1", "type": "x",  "data": {"b": 1, "a": 2} })";
  std::string text = dead_letter_json(sample(original), kNow);
  EXPECT_NE(text.find(original), std::string::npos) << text;
  json doc = json::parse(text);
  EXPECT_EQ(doc["reason"], "unknown event type 'x'");
  EXPECT_EQ(doc["event"], json::parse(original));
  EXPECT_FALSE(doc.contains("original"));
  EXPECT_EQ(
      doc["source"],
      json({{"topic", "tresse.events"}, {"partition", 3}, {"offset", 1234}, {"key", "biz_k"}}));
  EXPECT_EQ(doc["attempts"], json::array());
  EXPECT_EQ(doc["dead_lettered_at"], "2026-04-19T10:32:00Z");
  EXPECT_FALSE(doc.contains("endpoint_id"));
}

TEST(DeadLetterTest, KeepsEndpointAndAttempts) {
  auto dl = sample(R"({"id":"evt_1"})");
  dl.endpoint_id = "ep_1";
  dl.attempts = json::array({{{"at", "2026-04-19T10:32:00Z"}, {"status", 500}}});
  json doc = json::parse(dead_letter_json(dl, kNow));
  EXPECT_EQ(doc["endpoint_id"], "ep_1");
  EXPECT_EQ(doc["attempts"][0]["status"], 500);
}

TEST(DeadLetterTest, EncodesNonJsonAsBase64AndText) {
  json doc = json::parse(dead_letter_json(sample("not json"), kNow));
  EXPECT_FALSE(doc.contains("event"));
  EXPECT_EQ(doc["original"]["base64"], "bm90IGpzb24=");
  EXPECT_EQ(doc["original"]["text"], "not json");
}

TEST(DeadLetterTest, NonObjectJsonIsNotAnEvent) {
  json doc = json::parse(dead_letter_json(sample("[1,2]"), kNow));
  EXPECT_FALSE(doc.contains("event"));
  EXPECT_EQ(doc["original"]["text"], "[1,2]");
}

TEST(DeadLetterTest, OmitsTextWhenNotUtf8) {
  for (std::string bad : {"\xff\xfe", "\xc0\xaf", "\xed\xa0\x80", "ab\xe2\x82"}) {
    json doc = json::parse(dead_letter_json(sample(bad), kNow));
    EXPECT_FALSE(doc["original"].contains("text")) << doc.dump();
    EXPECT_FALSE(doc["original"]["base64"].get<std::string>().empty());
  }
  json doc = json::parse(dead_letter_json(sample("caf\xc3\xa9 \xf0\x9f\x92\x87"), kNow));
  EXPECT_EQ(doc["original"]["text"], "caf\xc3\xa9 \xf0\x9f\x92\x87");
}

TEST(DeadLetterTest, TruncatesOversizedOriginals) {
  std::string huge(max_dead_letter_original_bytes + 1, 'a');
  json doc = json::parse(dead_letter_json(sample(huge), kNow));
  EXPECT_EQ(doc["original"]["truncated"], true);
  EXPECT_EQ(doc["original"]["size"], huge.size());
  EXPECT_EQ(doc["original"]["text"].get<std::string>().size(), 64u * 1024u);
}

TEST(DeadLetterTest, ProducedRecordIsReadableBack) {
  test::kafka_cluster kafka;
  tresse::kafka::producer_options po;
  po.brokers = kafka.bootstrap();
  auto p = tresse::kafka::producer::create(po);
  ASSERT_TRUE(p);
  dead_letter_producer dlq(std::move(*p));
  EXPECT_EQ(dlq.topic(), "tresse.webhooks.dead");

  auto dl = sample(R"({"id":"evt_9","business_id":"biz_9"})");
  dl.business_id = "biz_9";
  ASSERT_TRUE(dlq.produce_and_wait(dl, kNow));
  auto bad = sample("\x01garbage");
  ASSERT_TRUE(dlq.produce_and_wait(bad, kNow));

  auto records = kafka.read("tresse.webhooks.dead", 2);
  ASSERT_EQ(records.size(), 2u);
  std::map<std::string, std::string> by_key;
  for (const auto& r : records) by_key[r.key] = r.value;
  ASSERT_TRUE(by_key.contains("biz_9"));  // keyed by the event's business
  ASSERT_TRUE(by_key.contains("biz_k"));  // unparseable: keyed like the source message
  EXPECT_EQ(by_key["biz_9"], dead_letter_json(dl, kNow));
  EXPECT_EQ(json::parse(by_key["biz_k"])["original"]["base64"], "AWdhcmJhZ2U=");
}

TEST(DeadLetterTest, FailsTransientlyWhenTheBrokerIsUnreachable) {
  tresse::kafka::producer_options po;
  po.brokers = "127.0.0.1:1";
  po.message_timeout = 300ms;
  auto p = tresse::kafka::producer::create(po);
  ASSERT_TRUE(p);
  dead_letter_producer dlq(std::move(*p), {"tresse.webhooks.dead", 200ms});
  auto st = dlq.produce_and_wait(sample("x"), kNow);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, error_kind::transient);
}

}  // namespace
}  // namespace tresse::dispatcher::kafka
