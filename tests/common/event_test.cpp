#include "tresse/common/event.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <string>

#include "tresse/common/ids.hpp"

namespace tresse::events {
namespace {

const std::string kGood =
    R"({"id":"evt_2Hq9x7LmQ","type":"appointment.created","business_id":"biz_4f8a2c",)"
    R"("livemode":true,"timestamp":"2026-04-19T10:32:00Z",)"
    R"("data":{"id":"apt_q9w3r1z","status":"confirmed"}})";

// kGood with one field's JSON replaced (or removed when `value` is empty).
std::string with(const std::string& field, const std::string& value) {
  std::string doc = R"({"id":"evt_2Hq9x7LmQ","type":"appointment.created",)"
                    R"("business_id":"biz_4f8a2c","livemode":true,)"
                    R"("timestamp":"2026-04-19T10:32:00Z","data":{"id":"apt_1"}})";
  auto key = "\"" + field + "\":";
  auto start = doc.find(key);
  auto end = start + key.size();
  int depth = 0;
  bool in_string = false;
  for (; end < doc.size(); ++end) {
    char c = doc[end];
    if (in_string) {
      if (c == '"') in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '{')
      ++depth;
    else if (c == '}' && depth-- == 0)
      break;
    else if (c == ',' && depth == 0)
      break;
  }
  if (value.empty()) {
    if (doc[end] == ',')
      ++end;
    else if (doc[start - 1] == ',')
      --start;
    return doc.erase(start, end - start);
  }
  return doc.replace(start + key.size(), end - start - key.size(), value);
}

std::string reason(const std::string& bytes, std::size_t max = default_max_bytes) {
  auto ev = parse_event(bytes, max);
  return ev ? "ok" : ev.error().message;
}

TEST(EventTest, ParsesTheDocumentedEnvelope) {
  auto ev = parse_event(kGood);
  ASSERT_TRUE(ev) << ev.error().message;
  EXPECT_EQ(ev->id, "evt_2Hq9x7LmQ");
  EXPECT_EQ(ev->type, "appointment.created");
  EXPECT_EQ(ev->business_id, "biz_4f8a2c");
  EXPECT_TRUE(ev->livemode);
  EXPECT_EQ(ev->timestamp, "2026-04-19T10:32:00Z");
  EXPECT_EQ(ev->raw, kGood);
}

TEST(EventTest, KeepsTheExactBytesIncludingUnknownFieldsAndWhitespace) {
  std::string bytes = " {\"extra\": [1, 2],\n" + kGood.substr(1) + "\n";
  auto ev = parse_event(bytes);
  ASSERT_TRUE(ev) << ev.error().message;
  EXPECT_EQ(ev->raw, bytes);
}

TEST(EventTest, ReadsSandboxEvents) {
  auto ev = parse_event(with("livemode", "false"));
  ASSERT_TRUE(ev);
  EXPECT_FALSE(ev->livemode);
}

TEST(EventTest, AcceptsEveryKnownType) {
  for (auto type : known_types) {
    EXPECT_EQ(reason(with("type", "\"" + std::string(type) + "\"")), "ok") << type;
  }
}

TEST(EventTest, RejectsBadJson) {
  EXPECT_TRUE(reason("{\"id\": ").starts_with("bad JSON: ")) << reason("{\"id\": ");
  EXPECT_TRUE(reason("").starts_with("bad JSON: "));
  EXPECT_TRUE(reason(kGood + "x").starts_with("bad JSON: "));
  EXPECT_EQ(reason(kGood + std::string("\0{\"x\":1}", 8)),
            "bad JSON: NUL byte at byte " + std::to_string(kGood.size()));
  EXPECT_TRUE(reason("{\"id\":\"\xff\"}").starts_with("bad JSON: "));  // not UTF-8
}

TEST(EventTest, RejectsNonObjects) {
  EXPECT_EQ(reason("[1,2]"), "event is not a JSON object");
  EXPECT_EQ(reason("42"), "event is not a JSON object");
  EXPECT_EQ(reason("\"evt\""), "event is not a JSON object");
  EXPECT_EQ(reason("null"), "event is not a JSON object");
}

TEST(EventTest, NamesTheMissingField) {
  for (std::string field : {"id", "type", "business_id", "livemode", "timestamp", "data"}) {
    EXPECT_EQ(reason(with(field, "")), "missing field '" + field + "'");
  }
}

TEST(EventTest, NamesTheIllTypedField) {
  EXPECT_EQ(reason(with("id", "42")), "field 'id' must be a string");
  EXPECT_EQ(reason(with("type", "null")), "field 'type' must be a string");
  EXPECT_EQ(reason(with("business_id", "{}")), "field 'business_id' must be a string");
  EXPECT_EQ(reason(with("livemode", "\"true\"")), "field 'livemode' must be a boolean");
  EXPECT_EQ(reason(with("timestamp", "1776594720")), "field 'timestamp' must be a string");
  EXPECT_EQ(reason(with("data", "[]")), "field 'data' must be an object");
  EXPECT_EQ(reason(with("data", "\"x\"")), "field 'data' must be an object");
}

TEST(EventTest, RejectsUnknownTypes) {
  EXPECT_EQ(reason(with("type", "\"appointment.exploded\"")),
            "unknown event type 'appointment.exploded'");
  EXPECT_EQ(reason(with("type", "\"\"")), "unknown event type ''");
  EXPECT_EQ(reason(with("type", "\"appointment.*\"")), "unknown event type 'appointment.*'");
}

TEST(EventTest, RejectsOversizedEvents) {
  EXPECT_EQ(reason(kGood, kGood.size()), "ok");
  EXPECT_EQ(reason(kGood, kGood.size() - 1), "event is " + std::to_string(kGood.size()) +
                                                 " bytes, more than the limit of " +
                                                 std::to_string(kGood.size() - 1));
}

TEST(EventTest, RejectsIdsOutsideThePattern) {
  const std::string why = "field 'id' must match [A-Za-z0-9_-]{1,128}";
  EXPECT_EQ(reason(with("id", "\"\"")), why);
  EXPECT_EQ(reason(with("id", "\"evt 1\"")), why);
  EXPECT_EQ(reason(with("id", "\"evt\\n1\"")), why);  // would split an HTTP header
  EXPECT_EQ(reason(with("id", "\"" + std::string(129, 'a') + "\"")), why);
  EXPECT_EQ(reason(with("id", "\"" + std::string(128, 'a') + "\"")), "ok");
  EXPECT_EQ(reason(with("business_id", "\"biz/1\"")),
            "field 'business_id' must match [A-Za-z0-9_-]{1,128}");
}

TEST(EventTest, RejectsTimestampsThatAreNotRfc3339) {
  const std::string why = "field 'timestamp' is not an RFC 3339 date-time";
  for (std::string ts :
       {"2026-04-19", "2026-04-19 10:32:00Z", "2026-04-19T10:32:00", "2026-13-19T10:32:00Z",
        "2026-02-30T10:32:00Z", "2025-02-29T00:00:00Z", "2026-04-19T24:00:00Z",
        "2026-04-19T10:32:00.Z", "2026-04-19T10:32:00+0200", "1776594720", ""}) {
    EXPECT_EQ(reason(with("timestamp", "\"" + ts + "\"")), why) << ts;
  }
}

TEST(EventTest, AcceptsRfc3339Variants) {
  for (std::string ts : {"2026-04-19T10:32:00Z", "2026-04-19t10:32:00z", "2024-02-29T23:59:60Z",
                         "2026-04-19T10:32:00.123456+02:00", "2026-04-19T10:32:00-04:00"}) {
    EXPECT_TRUE(is_rfc3339(ts)) << ts;
  }
}

TEST(EventTest, RejectsDuplicateTopLevelFields) {
  EXPECT_EQ(reason(R"({"type":"client.created",)" + kGood.substr(1)), "duplicate field 'type'");
}

TEST(EventTest, BoundsNesting) {
  std::string deep = std::string(100, '[') + std::string(100, ']');
  EXPECT_EQ(reason(with("data", "{\"x\":" + deep + "}")), "nested deeper than 64 levels");
  std::string ok = std::string(10, '[') + std::string(10, ']');
  EXPECT_EQ(reason(with("data", "{\"x\":" + ok + "}")), "ok");
}

TEST(EventTest, MatchesExactTypesWildcardsAndAll) {
  EXPECT_TRUE(event_type_matches("appointment.created", "appointment.created"));
  EXPECT_FALSE(event_type_matches("appointment.created", "appointment.updated"));
  EXPECT_TRUE(event_type_matches("appointment.*", "appointment.no_show"));
  EXPECT_FALSE(event_type_matches("appointment.*", "client.created"));
  EXPECT_FALSE(event_type_matches("appointment.*", "appointment"));
  EXPECT_FALSE(event_type_matches("appointment.*", "appointmentx.created"));
  EXPECT_FALSE(event_type_matches("app*", "appointment.created"));
  EXPECT_TRUE(event_type_matches("*", "client.deleted"));
}

TEST(EventTest, ValidatesSubscriptions) {
  EXPECT_TRUE(is_valid_subscription("*"));
  EXPECT_TRUE(is_valid_subscription("client.deleted"));
  EXPECT_TRUE(is_valid_subscription("appointment.*"));
  EXPECT_TRUE(is_valid_subscription("client.*"));
  EXPECT_FALSE(is_valid_subscription("invoice.*"));
  EXPECT_FALSE(is_valid_subscription("client.exploded"));
  EXPECT_FALSE(is_valid_subscription(".*"));
  EXPECT_FALSE(is_valid_subscription("appointment*"));
  EXPECT_FALSE(is_valid_subscription(""));
}

TEST(EventTest, GeneratesDistinctValidIds) {
  std::string a = new_event_id(), b = new_event_id();
  EXPECT_NE(a, b);
  EXPECT_TRUE(a.starts_with("evt_"));
  EXPECT_EQ(a.size(), 26u);
  EXPECT_TRUE(is_valid_id(a));
}

TEST(EventTest, FormatsUtcTimestamps) {
  auto t = std::chrono::system_clock::time_point(std::chrono::seconds(1776594720)) +
           std::chrono::milliseconds(999);
  EXPECT_EQ(format_rfc3339(t), "2026-04-19T10:32:00Z");
  EXPECT_TRUE(is_rfc3339(format_rfc3339(std::chrono::system_clock::now())));
}

TEST(EventTest, ParsesRfc3339WithFractionsAndOffsets) {
  using namespace std::chrono;
  const system_clock::time_point base{seconds(1776594720)};  // 2026-04-19T10:32:00Z
  EXPECT_EQ(parse_rfc3339("2026-04-19T10:32:00Z"), base);
  EXPECT_EQ(parse_rfc3339("2026-04-19t10:32:00z"), base);
  EXPECT_EQ(parse_rfc3339("2026-04-19T10:32:00.5Z"), base + milliseconds(500));
  EXPECT_EQ(parse_rfc3339("2026-04-19T10:32:00.123456Z"), base + milliseconds(123));
  EXPECT_EQ(parse_rfc3339("2026-04-19T12:32:00+02:00"), base);
  EXPECT_EQ(parse_rfc3339("2026-04-19T06:02:00-04:30"), base);
  EXPECT_EQ(parse_rfc3339("2024-02-29T00:00:00Z"), system_clock::time_point{seconds(1709164800)});
  EXPECT_EQ(parse_rfc3339(format_rfc3339(base)), base);
  EXPECT_FALSE(parse_rfc3339("2026-04-19 10:32:00Z"));
  EXPECT_FALSE(parse_rfc3339("2025-02-29T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("yesterday"));
}

TEST(IdsTest, TimeOrderedIdsSortByCreationTime) {
  using namespace std::chrono;
  auto a = ids::time_ordered("att_", system_clock::time_point(milliseconds(1000)));
  auto b = ids::time_ordered("att_", system_clock::time_point(milliseconds(1001)));
  auto c = ids::time_ordered("att_", system_clock::time_point(milliseconds(99999999999999)));
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_EQ(a.size(), 4u + 8 + 14);
  EXPECT_TRUE(a.starts_with("att_"));
  EXPECT_TRUE(is_valid_id(a));
  EXPECT_NE(ids::time_ordered("x_"), ids::time_ordered("x_"));
  auto r = ids::random_base62(32);
  EXPECT_EQ(r.size(), 32u);
  EXPECT_TRUE(std::all_of(r.begin(), r.end(), [](char ch) { return std::isalnum(ch); }));
}

TEST(IdsTest, IdsOfOneMillisecondSortInTheOrderOneThreadMadeThem) {
  using namespace std::chrono;
  const auto at = system_clock::time_point(milliseconds(1776594720123));
  std::string last = ids::time_ordered("we_", at);
  const std::string time_part = last.substr(3, 8);
  for (int i = 0; i < 10000; ++i) {
    std::string next = ids::time_ordered("we_", at);
    ASSERT_LT(last, next) << i;
    EXPECT_EQ(next.substr(3, 8), time_part);  // still that millisecond
    EXPECT_TRUE(is_valid_id(next));
    last = std::move(next);
  }
  // An earlier millisecond keeps its time (and sorts before).
  EXPECT_LT(ids::time_ordered("we_", at - milliseconds(1)), last);
}

}  // namespace
}  // namespace tresse::events
