// End to end: what cannot be delivered ends on the dead-letter topic with the reason and the
// original bytes (endpoints that time out or refuse connections, and poison Kafka records),
// and consumption goes on.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness.hpp"
#include "redis/client.hpp"
#include "redis/keys.hpp"
#include "support/process.hpp"

namespace tresse::test {
namespace {

using json = nlohmann::json;

class DeadLetterTest : public integration_test {
 protected:
  std::vector<kafka_record> dead_letters(std::size_t n) {
    return kafka_.read(dead_letter_topic(), n, eventually);
  }

  // A delivery that exhausted the schedule (1 + 3 attempts): reason, endpoint, the event's
  // exact bytes, and the attempt log, each attempt failed with `why`.
  void expect_exhausted(const kafka_record& rec, const endpoint_info& ep, const events::event& ev,
                        const std::string& why) {
    SCOPED_TRACE(rec.value);
    auto dl = json::parse(rec.value);
    EXPECT_TRUE(dl.value("reason", "").starts_with("retries_exhausted"));
    EXPECT_NE(dl.value("reason", "").find(why), std::string::npos);
    EXPECT_EQ(dl.value("endpoint_id", ""), ep.id);
    EXPECT_EQ(dl["event"], json::parse(ev.raw));
    EXPECT_NE(rec.value.find(ev.raw), std::string::npos) << "event not spliced in byte for byte";
    EXPECT_EQ(rec.key, ev.business_id);
    ASSERT_TRUE(dl["attempts"].is_array());
    ASSERT_EQ(dl["attempts"].size(), 4u);
    std::vector<int> numbers;
    for (const auto& a : dl["attempts"]) {
      numbers.push_back(a.value("attempt", 0));
      EXPECT_EQ(a.value("event_id", ""), ev.id);
      EXPECT_NE(a.value("error", "").find(why), std::string::npos) << a.dump();
    }
    std::sort(numbers.begin(), numbers.end());
    EXPECT_EQ(numbers, (std::vector<int>{1, 2, 3, 4}));
  }
};

TEST_F(DeadLetterTest, TimeoutsAreRetriedThenDeadLettered) {
  recording_sink silent([](const received_request&) { return sink_reply{.hang = true}; });
  auto ep = create_endpoint("biz_slow", silent.url(), "*");
  start_dispatcher({"delivery.timeout=300ms"});
  auto ev = make_event("appointment.created", "biz_slow");
  publish({ev});

  auto dead = dead_letters(1);
  ASSERT_EQ(dead.size(), 1u);
  expect_exhausted(dead[0], ep, ev, "timeout");
  EXPECT_EQ(silent.count(), 4u);
}

TEST_F(DeadLetterTest, RefusedConnectionsAreRetriedThenDeadLettered) {
  auto closed = free_port();  // nothing listens there
  auto ep =
      create_endpoint("biz_down", "http://127.0.0.1:" + std::to_string(closed) + "/hook", "*");
  start_dispatcher();
  auto ev = make_event("client.created", "biz_down");
  publish({ev});

  auto dead = dead_letters(1);
  ASSERT_EQ(dead.size(), 1u);
  expect_exhausted(dead[0], ep, ev, "connect_refused");
}

TEST_F(DeadLetterTest, AnInvalidUrlIsDeadLetteredAtOnce) {
  recording_sink sink;
  auto ep = create_endpoint("biz_badurl", sink.url(), "*");
  // A URL stored before the API and the CLI checked URLs with the client's parser: no attempt
  // can ever post to it, so it is not retried for a day.
  dispatcher::redis::client redis(*dispatcher::redis::parse_url(redis_.url()));
  const std::string key = dispatcher::redis::keys::endpoint(ep.id);
  auto stored = redis.command({"GET", key});
  ASSERT_TRUE(stored.has_value());
  auto record = json::parse(stored->str);
  record["url"] = "http://127.0.0.1:99999/hook";
  ASSERT_TRUE(redis.command({"SET", key, record.dump()}).has_value());
  start_dispatcher();
  auto ev = make_event("client.created", "biz_badurl");
  publish({ev});

  auto dead = dead_letters(1);
  ASSERT_EQ(dead.size(), 1u);
  SCOPED_TRACE(dead[0].value);
  auto dl = json::parse(dead[0].value);
  EXPECT_TRUE(dl.value("reason", "").starts_with("permanent_failure"));
  EXPECT_NE(dl.value("reason", "").find("invalid_url"), std::string::npos);
  ASSERT_TRUE(dl["attempts"].is_array());
  EXPECT_EQ(dl["attempts"].size(), 1u) << "retried";
  EXPECT_EQ(sink.count(), 0u);
}

TEST_F(DeadLetterTest, PoisonRecordsAreDeadLetteredAndConsumptionGoesOn) {
  recording_sink sink;
  create_endpoint("biz_poison", sink.url(), "*");
  start_dispatcher({"kafka.max_event_bytes=2048"});

  struct poison {
    std::string bytes;
    std::string reason;  // part of the dead letter's reason
  };
  std::string padding(3000, 'x');
  std::vector<poison> poisons = {
      {R"({"id":"evt_bad_json","type": )", "bad JSON"},
      {R"({"id":"evt_unknown","type":"appointment.exploded","business_id":"biz_poison",)"
       R"("livemode":true,"timestamp":"2026-04-19T10:32:00Z","data":{}})",
       "unknown event type 'appointment.exploded'"},
      {R"({"id":"evt_missing","type":"client.created","livemode":true,)"
       R"("timestamp":"2026-04-19T10:32:00Z","data":{}})",
       "missing field 'business_id'"},
      {R"({"id":"evt_huge","type":"client.created","business_id":"biz_poison","livemode":true,)"
       R"("timestamp":"2026-04-19T10:32:00Z","data":{"pad":")" +
           padding + R"("}})",
       "more than the limit"},
  };
  // All on the valid event's partition (same key), before it.
  for (const auto& p : poisons) produce_raw("biz_poison", p.bytes);
  auto good = make_event("client.created", "biz_poison");
  publish({good});

  ASSERT_TRUE(sink.wait_for_count(1));
  EXPECT_EQ(sink.requests()[0].body, good.raw);

  auto dead = dead_letters(poisons.size());
  ASSERT_EQ(dead.size(), poisons.size());
  for (const auto& p : poisons) {
    SCOPED_TRACE(p.reason);
    const kafka_record* found = nullptr;
    json dl;
    for (const auto& rec : dead) {
      auto j = json::parse(rec.value);
      if (j.value("reason", "").find(p.reason) != std::string::npos) {
        found = &rec;
        dl = j;
      }
    }
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(found->key, "biz_poison");
    EXPECT_EQ(dl["source"].value("topic", ""), events_topic());
    EXPECT_EQ(dl["source"].value("key", ""), "biz_poison");
    if (dl.contains("event")) {
      EXPECT_NE(found->value.find(p.bytes), std::string::npos) << "not byte for byte";
    } else {
      ASSERT_TRUE(dl.contains("original")) << dl.dump();
      EXPECT_EQ(dl["original"].value("text", ""), p.bytes);
    }
  }
  EXPECT_EQ(sink.count(), 1u);  // none of the poison reached the endpoint
}

}  // namespace
}  // namespace tresse::test
