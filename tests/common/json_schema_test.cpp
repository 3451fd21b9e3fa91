#include "tresse/common/json_schema.hpp"

#include <gtest/gtest.h>

namespace tresse::json_schema {
namespace {

using json = nlohmann::json;

class JsonSchemaTest : public ::testing::Test {
 protected:
  JsonSchemaTest() {
    EXPECT_TRUE(refs_.add(resource_));
  }
  std::string why(const json& schema, const json& value) {
    auto r = validate(refs_, schema, value);
    return r ? *r : "";
  }

  json resource_ = json::parse(R"({
    "$id": "https://example.test/thing.json",
    "type": "object",
    "required": ["id", "at"],
    "properties": {
      "id": {"type": "string", "minLength": 2, "maxLength": 5},
      "at": {"type": "string", "format": "date-time"},
      "count": {"type": "integer", "minimum": 0, "maximum": 10},
      "ratio": {"type": "number"},
      "kind": {"enum": ["a", "b"]},
      "note": {"type": ["string", "null"]},
      "tags": {"type": "array", "items": {"type": "string"}},
      "flag": {"const": true}
    },
    "additionalProperties": false
  })");
  json ref_ = json::parse(R"({"$ref": "https://example.test/thing.json"})");
  registry refs_;
};

TEST_F(JsonSchemaTest, AcceptsWhatMatches) {
  EXPECT_EQ(why(ref_, json::parse(R"({"id": "ab", "at": "2026-04-19T10:32:00Z"})")), "");
  EXPECT_EQ(why(ref_, json::parse(R"({"id": "abcde", "at": "2026-04-22T14:00:00-04:00",
      "count": 10, "ratio": 0.5, "kind": "b", "note": null, "tags": ["x"], "flag": true})")), "");
  EXPECT_EQ(why(ref_, json::parse(R"({"id": "ab", "at": "2026-04-19T10:32:00Z", "count": 3.0})")),
            "") << "3.0 is an integer";
  EXPECT_EQ(why(ref_, json::parse(R"({"id": "été", "at": "2026-04-19T10:32:00Z"})")), "")
      << "lengths count code points";
}

TEST_F(JsonSchemaTest, NamesTheFieldAndWhatWasExpected) {
  auto v = [](const char* text) { return json::parse(text); };
  EXPECT_EQ(why(ref_, v(R"({"id": "ab"})")), "data.at: required field missing");
  EXPECT_EQ(why(ref_, v(R"({"id": "ab", "at": "tomorrow"})")),
            "data.at: expected string (date-time)");
  EXPECT_EQ(why(ref_, v(R"({"id": "ab", "at": 5})")), "data.at: expected string (date-time)");
  EXPECT_EQ(why(ref_, v(R"({"id": "a", "at": "2026-04-19T10:32:00Z"})")),
            "data.id: expected at least 2 characters");
  EXPECT_EQ(why(ref_, v(R"({"id": "abcdef", "at": "2026-04-19T10:32:00Z"})")),
            "data.id: expected at most 5 characters");
  EXPECT_EQ(why(ref_, v(R"({"id": "ab", "at": "2026-04-19T10:32:00Z", "count": 11})")),
            "data.count: expected at most 10");
  EXPECT_EQ(why(ref_, v(R"({"id": "ab", "at": "2026-04-19T10:32:00Z", "count": -1})")),
            "data.count: expected at least 0");
  EXPECT_EQ(why(ref_, v(R"({"id": "ab", "at": "2026-04-19T10:32:00Z", "count": 1.5})")),
            "data.count: expected integer");
  EXPECT_EQ(why(ref_, v(R"({"id": "ab", "at": "2026-04-19T10:32:00Z", "kind": "c"})")),
            "data.kind: expected one of \"a\", \"b\"");
  EXPECT_EQ(why(ref_, v(R"({"id": "ab", "at": "2026-04-19T10:32:00Z", "note": 1})")),
            "data.note: expected string or null");
  EXPECT_EQ(why(ref_, v(R"({"id": "ab", "at": "2026-04-19T10:32:00Z", "tags": ["x", 2]})")),
            "data.tags[1]: expected string");
  EXPECT_EQ(why(ref_, v(R"({"id": "ab", "at": "2026-04-19T10:32:00Z", "flag": false})")),
            "data.flag: expected true");
  EXPECT_EQ(why(ref_, v(R"({"id": "ab", "at": "2026-04-19T10:32:00Z", "extra": 1})")),
            "data.extra: unknown field");
  EXPECT_EQ(why(ref_, v(R"([1])")), "data: expected object");
}

TEST_F(JsonSchemaTest, KeywordsBesideARefApplyToo) {
  const json narrowed = json::parse(
      R"({"$ref": "https://example.test/thing.json", "properties": {"kind": {"const": "a"}}})");
  EXPECT_EQ(why(narrowed, json::parse(R"({"id": "ab", "at": "2026-04-19T10:32:00Z", "kind": "b"})")),
            "data.kind: expected \"a\"");
  EXPECT_EQ(why(json::parse(R"({"$ref": "https://example.test/none.json"})"), json::object()),
            "data: unresolved $ref https://example.test/none.json");
}

TEST_F(JsonSchemaTest, RefusesSchemasOutsideTheSubset) {
  registry r;
  auto pattern = r.add(json::parse(R"({"$id": "x:1", "properties": {"a": {"pattern": "^a"}}})"));
  ASSERT_FALSE(pattern);
  EXPECT_NE(pattern.error().message.find("pattern"), std::string::npos);
  EXPECT_FALSE(r.add(json::parse(R"({"$id": "x:2", "oneOf": []})")));
  EXPECT_FALSE(r.add(json::parse(R"({"$id": "x:3", "format": "email"})")));
  EXPECT_FALSE(r.add(json::parse(R"({"type": "object"})"))) << "no $id";
  EXPECT_TRUE(r.add(json::parse(R"({"$id": "x:4", "title": "t", "examples": [1]})")));
  EXPECT_FALSE(r.add(json::parse(R"({"$id": "x:4"})"))) << "added twice";
}

}  // namespace
}  // namespace tresse::json_schema
