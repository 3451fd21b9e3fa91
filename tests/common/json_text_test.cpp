#include "tresse/common/json_text.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <cstdint>
#include <limits>
#include <string>

namespace tresse::json_text {
namespace {

// What nlohmann::json writes for the same string (the reference this must match).
std::string reference(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string written(std::string_view s) {
  std::string out;
  append_string(out, s);
  return out;
}

TEST(JsonTextTest, EscapesLikeNlohmann) {
  for (std::string s : {std::string("plain"), std::string("quote \" and \\ backslash"),
                        std::string("tab\tnewline\nreturn\rbell\a\x01\x1f del\x7f"),
                        std::string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\x87"), std::string(),
                        std::string("nul\0inside", 10)}) {
    EXPECT_EQ(written(s), reference(s)) << s;
    EXPECT_EQ(nlohmann::json::parse(written(s)).get<std::string>(), s);
  }
}

TEST(JsonTextTest, EscapesAnywhereInLongRuns) {
  // Every special character at the start, middle and end of plain runs of several lengths.
  for (std::string special : {std::string("\""), std::string("\\"), std::string("\n"),
                              std::string("\x01"), std::string("\xc3\xa9"), std::string("\xff")}) {
    for (std::size_t run : {0u, 1u, 7u, 8u, 9u, 63u, 300u}) {
      const std::string plain(run, 'x');
      for (const std::string& s : {special + plain, plain + special + plain, plain + special,
                                   special + special + plain + special}) {
        EXPECT_EQ(written(s), reference(s)) << s;
      }
    }
  }
}

TEST(JsonTextTest, AppendsAfterWhatIsThere) {
  std::string out = "[";
  for (int i = 0; i < 100; ++i) {
    if (i > 0) out += ",";
    append_string(out, std::string(static_cast<std::size_t>(i), 'a') + "\"");
  }
  out += "]";
  const auto parsed = nlohmann::json::parse(out);
  ASSERT_EQ(parsed.size(), 100u);
  EXPECT_EQ(parsed[99].get<std::string>(), std::string(99, 'a') + "\"");
}

TEST(JsonTextTest, ReplacesInvalidUtf8) {
  for (std::string s : {std::string("bad \xff byte"), std::string("cut \xe2\x82"),
                        std::string("overlong \xc0\xaf"), std::string("surrogate \xed\xa0\x80"),
                        std::string("too big \xf4\x90\x80\x80")}) {
    std::string out = written(s);
    EXPECT_NO_THROW((void)nlohmann::json::parse(out)) << out;
    EXPECT_NE(out.find("\xef\xbf\xbd"), std::string::npos) << out;
  }
}

TEST(JsonTextTest, KeysNumbersAndBooleans) {
  std::string out = "{";
  append_key(out, "a");
  append_int(out, -42);
  append_key(out, "b");
  append_bool(out, true);
  append_key(out, "c");
  out += "[";
  append_int(out, 9007199254740993);
  out += "]}";
  EXPECT_EQ(out, R"({"a":-42,"b":true,"c":[9007199254740993]})");
}

TEST(JsonTextTest, IntegersAtTheLimits) {
  std::string out = "[";
  append_int(out, std::numeric_limits<std::int64_t>::min());
  out += ",";
  append_int(out, std::numeric_limits<std::int64_t>::max());
  out += ",";
  append_int(out, 0);
  out += "]";
  EXPECT_EQ(out, "[-9223372036854775808,9223372036854775807,0]");
}

}  // namespace
}  // namespace tresse::json_text
