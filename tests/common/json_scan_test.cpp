#include "tresse/common/json_scan.hpp"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "support/json_mutation.hpp"

namespace tresse::json_scan {
namespace {

using json = nlohmann::json;
using namespace std::literals;

using test::shown;

// Everything a scan reports.
struct recorder final : handler {
  struct entry {
    std::string key;
    kind k = kind::null;
    bool flag = false;
    std::string text;
  };
  std::optional<kind> root_kind;
  std::vector<entry> members;

  bool root(kind k) override {
    root_kind = k;
    return true;
  }
  bool key(std::string_view k) override {
    members.push_back({.key = std::string(k)});
    return true;
  }
  bool member(const value& v) override {
    members.back().k = v.k;
    members.back().flag = v.flag;
    members.back().text = v.text;
    return true;
  }
};

// Valid JSON texts, one or more per rule; each one nlohmann::json::accept accepts too.
const std::vector<std::string> valid_docs = {
    // Containers, whitespace (space, tab, LF, CR only), nesting, duplicate keys (valid JSON).
    "{}", "[]", " \t\n\r{ \t\n\r} \t\n\r", "[1,[2,[3,{}]]]", R"({"a":{"b":{"c":[]}}})", R"({"":0})",
    R"({"a":1,"a":2})", R"([null,true,false,"",0,{},[]])", R"({ "a" : [ 1 , 2 ] , "b" : { } })",
    // Scalars at the root.
    "true", "false", "null", "0", "\"\"",
    // Numbers.
    "-0", "1", "-1", "123", "0.5", "-0.0", "1e5", "1E5", "1e+5", "1e-5", "1.5E-05", "0e0", "0E+0",
    "-0e-0", "1e308", "1.7976931348623158e308", "-1.7976931348623158e308", "10e307",
    "0.0000001e315", "179.76931348623157e306", "1e-400", "-1e-400", "0e99999999999999999999",
    "0.000e400", "18446744073709551615", "18446744073709551616", "-9223372036854775809",
    std::string(308, '9'), "1" + std::string(308, '0'), "0." + std::string(400, '0') + "1e400",
    // Strings: every escape, \u in both cases, surrogate pairs, raw UTF-8 of every length.
    R"("abc")", R"("\"\\\/\b\f\n\r\t")", R"("\u0000")", R"("\u0041\u00e9\u00E9\u20AC")",
    R"("\ud83d\ude00")", R"("\uD83D\uDE00")", R"("\udbff\udfff")", R"("\ud800\udc00")", "\"\x7f\"",
    "\"\xc2\x80\"", "\"\xdf\xbf\"", "\"\xe0\xa0\x80\"", "\"\xed\x9f\xbf\"", "\"\xee\x80\x80\"",
    "\"\xef\xbf\xbf\"", "\"\xf0\x90\x80\x80\"", "\"\xf4\x8f\xbf\xbf\"", "\"\xef\xbb\xbf\"",
    "\"日本語 😀 Zoë\"", "\"/\"", "\"'\"",
    // nlohmann skips a leading UTF-8 BOM.
    "\xEF\xBB\xBF{}", "\xEF\xBB\xBF 1",
    // nlohmann's lexer takes a NUL byte for the end of input: anything after one is ignored.
    "{}\0garbage"s, "1\0x"s, "[]\0"s, "{} \0 }"s, "\"a\"\0\xff"s};

// Invalid ones; each one nlohmann::json::accept rejects too.
const std::vector<std::string> invalid_docs = {
    // Nothing, or nothing but whitespace; other spaces; BOMs that are not one.
    "", " ", "\t\n\r ", "\f{}", "\v[]", "\xC2\xA0[]", " \xEF\xBB\xBF{}", "\xEF\xBB{}", "\xEF{}",
    "\xEF\xBB\xBF", "\xEF\xBB\xBF\xEF\xBB\xBF{}", "\0"s, " \0{}"s, "[\0]"s,
    // Literals.
    "t", "tru", "True", "nul", "nulll", "falsey", "undefined", "NaN", "Infinity", "-Infinity",
    "[true false]", "[tru]",
    // Numbers.
    "-", "--1", "+1", ".5", "1.", "1.e5", "1e", "1e+", "1E-", "01", "00", "-01", "0x10", "1.5.2",
    "1e5.5", "- 1", "1 2", "[1,,2]", "0.", "-.5", "[-]", "[1.]", "[1e]", "1e400", "-1e400",
    "1.7976931348623159e308", "1e99999999999999999999", std::string(309, '9'),
    "[" + std::string(400, '9') + "]", "0.00001e315",
    // Strings: unterminated, bad escapes, \u errors.
    "\"", "\"abc", "'a'", R"("\")", R"("\a")", R"("\x41")", R"("\U0041")", R"("\u41")",
    R"("\u004")", R"("\u00G0")", R"("\u")", R"("\)",
    // Lone or mispaired surrogates in \u escapes.
    R"("\ud800")", R"("\udbff")", R"("\udc00")", R"("\udfff")", R"("\ud800\u0041")",
    R"("\ud800\ud800")", R"("\ud800x")", R"("\ud800\n")", R"("\udc00\ud800")", R"("\ud800\")",
    R"("\ud800\u")", R"("\ud800\udc0")", R"("\ud800\uDBFF")", R"(["\ud800"])",
    // Control characters must be escaped; DEL need not be.
    "\"\x01\"", "\"\x1f\"", "\"\t\"", "\"\n\"", "\"\r\"", "\"\0\""s, "\"\\\n\"",
    // UTF-8: continuation bytes alone, overlongs (C0, C1, E0 80..9F, F0 80..8F), truncated
    // sequences, UTF-16 surrogates D800..DFFF encoded, past U+10FFFF, F5..FF.
    "\"\x80\"", "\"\xbf\"", "\"\xc0\x80\"", "\"\xc1\xbf\"", "\"\xc2\"", "\"\xc2\x20\"",
    "\"\xe0\x80\x80\"", "\"\xe0\x9f\xbf\"", "\"\xe2\x82\"", "\"\xed\xa0\x80\"", "\"\xed\xbf\xbf\"",
    "\"\xed\xa0\x80\xed\xb0\x80\"", "\"\xf0\x80\x80\x80\"", "\"\xf0\x8f\xbf\xbf\"",
    "\"\xf4\x90\x80\x80\"", "\"\xf5\x80\x80\x80\"", "\"\xf8\x88\x80\x80\x80\"", "\"\xfe\"",
    "\"\xff\"", "\"\xf0\x9f\x98\"", "\"\xf0\x9f\x98", "\"\xe2\x82\xac\x80\"", "\xc3\xa9",
    // Structure: unbalanced, trailing commas, missing separators, bad keys, trailing garbage,
    // comments (nlohmann's accept has them off).
    "{", "}", "[", "]", "[1,]", "[,1]", "[,]", "{,}", R"({"a":1,})", R"({"a"})", R"({"a":})",
    R"({"a" 1})", "{a:1}", "{1:1}", R"({"a":1 "b":2})", "[1 2]", "[1}", R"({"a":1])", "[[]", "[]]",
    "{}}", "{}{}", "[] []", "{}x", "{} x", "[]\x01", R"({"a":1}})", "/*c*/{}", "{} // c",
    R"({"a":1,"b"})", ":", ",", R"({"a"::1})", "[]\xEF\xBB\xBF", "nullx", R"({"a":1,,"b":2})",
    R"({"a",1})", "[1:2]", R"({"a":{"b":1})"};

TEST(JsonScanTest, AcceptsEveryGrammarRule) {
  for (const auto& doc : valid_docs) {
    EXPECT_TRUE(valid(doc)) << shown(doc) << ": " << describe(scan(doc).error) << " at byte "
                            << scan(doc).offset;
    EXPECT_TRUE(json::accept(doc)) << "nlohmann disagrees: " << shown(doc);
  }
}

TEST(JsonScanTest, RejectsEveryGrammarViolation) {
  for (const auto& doc : invalid_docs) {
    EXPECT_FALSE(valid(doc)) << shown(doc);
    EXPECT_FALSE(json::accept(doc)) << "nlohmann disagrees: " << shown(doc);
  }
}

TEST(JsonScanTest, ReportsWhatWentWrongAndWhere) {
  struct want {
    std::string doc;
    errc error;
    std::size_t offset;
  };
  for (const auto& w : std::vector<want>{
           {"", errc::unexpected_end, 0},
           {"[", errc::unexpected_end, 1},
           {R"({"a":)", errc::unexpected_end, 5},
           {"\"abc", errc::unexpected_end, 4},
           {"tru", errc::unexpected_end, 3},
           {"[1,]", errc::unexpected_character, 3},
           {"{} x", errc::unexpected_character, 3},
           {"01", errc::unexpected_character, 1},
           {"\xEF\xBB{}", errc::unexpected_character, 0},
           {"[trx]", errc::invalid_literal, 1},
           {"[1.x]", errc::invalid_number, 3},
           {"-a", errc::invalid_number, 1},
           {"[0,1e400]", errc::number_overflow, 3},
           {R"(["\x"])", errc::invalid_escape, 2},
           {R"(["\u12g4"])", errc::invalid_escape, 2},
           {R"(["ab\ud800"])", errc::unpaired_surrogate, 4},
           {R"(["\udc00"])", errc::unpaired_surrogate, 2},
           {"[\"a\x01\"]", errc::control_character, 3},
           {"[\"a\xc0\x80\"]", errc::invalid_utf8, 3},
           {"[\"a\xe2\x28\xa1\"]", errc::invalid_utf8, 3},
       }) {
    auto r = scan(w.doc);
    EXPECT_EQ(r.error, w.error) << shown(w.doc) << ": " << describe(r.error);
    EXPECT_EQ(r.offset, w.offset) << shown(w.doc);
  }
  EXPECT_EQ(describe(errc::invalid_utf8), "invalid UTF-8 in a string");
}

// Plain runs are skipped eight bytes at a time: a byte that ends the run must be found at
// every offset in a word, and a plain byte must never be taken for one.
TEST(JsonScanTest, FindsTheEndOfAPlainRunAtEveryOffset) {
  for (char c : "\x00\x01\x1f \"\\\x7f\x80\xc3\xff!~/"s) {
    for (std::size_t at = 0; at < 26; ++at) {
      std::string text = std::string(at, 'a') + c + std::string(25 - at, 'b');
      std::string doc = R"({"k":")" + text + R"(","n":1})";
      recorder r;
      const bool ours = static_cast<bool>(scan(doc, &r));
      ASSERT_EQ(ours, json::accept(doc)) << shown(doc);
      if (!ours) continue;
      ASSERT_EQ(r.members.size(), 2u) << shown(doc);
      EXPECT_EQ(r.members[0].text, json::parse(doc)["k"].get<std::string>()) << shown(doc);
    }
  }
}

TEST(JsonScanTest, ReportsTheRootObjectsMembersUnescaped) {
  recorder r;
  auto doc = R"( {"id":"evt_1", "t\u0079pe" : "a\"b\\c\u00e9\ud83d\ude00\n", "live":true,)"
             R"("off":false,"n":-1.5e3,"z":null,"data":{"id":"nested","x":[1]},"list":["s"]} )";
  ASSERT_TRUE(scan(doc, &r));
  EXPECT_EQ(r.root_kind, kind::object);
  ASSERT_EQ(r.members.size(), 8u);
  EXPECT_EQ(r.members[0].key, "id");
  EXPECT_EQ(r.members[0].k, kind::string);
  EXPECT_EQ(r.members[0].text, "evt_1");
  EXPECT_EQ(r.members[1].key, "type");
  EXPECT_EQ(r.members[1].text, "a\"b\\c\xc3\xa9\xf0\x9f\x98\x80\n");
  EXPECT_EQ(r.members[2].k, kind::boolean);
  EXPECT_TRUE(r.members[2].flag);
  EXPECT_EQ(r.members[3].k, kind::boolean);
  EXPECT_FALSE(r.members[3].flag);
  EXPECT_EQ(r.members[4].k, kind::number);
  EXPECT_EQ(r.members[5].k, kind::null);
  EXPECT_EQ(r.members[6].key, "data");  // nested "id" and "x" are not members
  EXPECT_EQ(r.members[6].k, kind::object);
  EXPECT_EQ(r.members[7].k, kind::array);
}

TEST(JsonScanTest, ReportsNothingButTheRootKindForOtherRoots) {
  recorder r;
  ASSERT_TRUE(scan(R"([{"a":1},"b"])", &r));
  EXPECT_EQ(r.root_kind, kind::array);
  EXPECT_TRUE(r.members.empty());
  recorder s;
  ASSERT_TRUE(scan(R"("x")", &s));
  EXPECT_EQ(s.root_kind, kind::string);
}

// Records the root's keys and, inside the root members it names, their own members.
struct descender final : handler {
  std::set<std::string> into;
  std::string last_key;
  std::vector<std::string> seen;  // "key", "outer.inner=text" in document order
  bool key(std::string_view k) override {
    last_key = k;
    seen.push_back(last_key);
    return true;
  }
  bool descend() override { return into.count(last_key) > 0; }
  bool inner_key(std::string_view k) override {
    seen.push_back(last_key + "." + std::string(k));
    return true;
  }
  bool inner_member(const value& v) override {
    seen.back() += "=" + (v.k == kind::string ? std::string(v.text) : "#");
    return true;
  }
};

TEST(JsonScanTest, ReportsTheMembersOfTheObjectsItIsAskedToDescendInto) {
  descender d;
  d.into = {"data", "arr"};
  ASSERT_TRUE(scan(R"({"id":"e","data":{"id":"a\u0062","n":{"id":"deep"},"l":[{"id":"x"}]},)"
                   R"("arr":["no"],"other":{"id":"skipped"},"tail":{}})",
                   &d));
  // Escapes unescaped; nested objects and arrays inside are reported as themselves only; an
  // array asked for is not descended into; an object not asked for is not.
  EXPECT_EQ(d.seen, (std::vector<std::string>{"id", "data", "data.id=ab", "data.n=#", "data.l=#",
                                               "arr", "other", "tail"}));
  // Stopping from an inner callback stops the scan there.
  struct stopper final : handler {
    bool descend() override { return true; }
    bool inner_member(const value&) override { return false; }
  } s;
  EXPECT_EQ(scan(R"({"data":{"id":"x"}})", &s).error, errc::stopped);
}

// A handler that refuses one callback, to see when each one runs.
struct refuser final : handler {
  int calls = 0;
  int refuse_at;
  explicit refuser(int n) : refuse_at(n) {}
  bool root(kind) override { return ++calls != refuse_at; }
  bool key(std::string_view) override { return ++calls != refuse_at; }
  bool member(const value&) override { return ++calls != refuse_at; }
};

TEST(JsonScanTest, CallsBackAsSoonAsATokenIsCompleteAndStopsThere) {
  // A container is reported when it opens, whatever follows; a scalar once it is whole.
  refuser a(1);
  EXPECT_EQ(scan("[\xff", &a).error, errc::stopped);
  refuser b(1);
  EXPECT_EQ(scan("tru", &b).error, errc::unexpected_end);
  refuser c(1);
  auto r = scan("12x", &c);
  EXPECT_EQ(r.error, errc::stopped);
  EXPECT_EQ(r.offset, 0u);
  // A key before its ':' is read; its value before what follows.
  refuser d(2);
  r = scan(R"({"a"!)", &d);
  EXPECT_EQ(r.error, errc::stopped);
  EXPECT_EQ(r.offset, 1u);
  refuser e(3);
  r = scan(R"({"a":"b"!)", &e);
  EXPECT_EQ(r.error, errc::stopped);
  EXPECT_EQ(r.offset, 5u);
  refuser f(3);
  EXPECT_EQ(scan(R"({"a":"b\x"})", &f).error, errc::invalid_escape);
  refuser g(100);
  EXPECT_TRUE(scan(R"({"a":"b","c":{"d":1}})", &g));
  EXPECT_EQ(g.calls, 5);
}

TEST(JsonScanTest, SurvivesDeepNestingWithoutRecursion) {
  const std::size_t n = 200'000;
  std::string open(n, '[');
  EXPECT_EQ(scan(open).error, errc::unexpected_end);
  EXPECT_FALSE(json::accept(open));
  std::string balanced = open + std::string(n, ']');
  EXPECT_TRUE(valid(balanced));
  EXPECT_FALSE(valid(open + std::string(n - 1, ']')));
  // Objects and arrays in a random order, so each 64-level word of the stack differs.
  std::mt19937 rng(7);
  std::string deep, closing;
  for (int i = 0; i < 5000; ++i) {
    const bool object = rng() % 2 == 0;
    deep += object ? R"({"a":)" : "[";
    closing.insert(closing.begin(), object ? '}' : ']');
  }
  EXPECT_TRUE(valid(deep + "1" + closing));
  for (std::size_t at : {std::size_t{10}, std::size_t{70}, std::size_t{200}, std::size_t{4000}}) {
    std::string wrong = closing;
    wrong[at] = wrong[at] == '}' ? ']' : '}';
    EXPECT_FALSE(valid(deep + "1" + wrong)) << at;
    EXPECT_FALSE(json::accept(deep + "1" + wrong)) << at;
  }
}

TEST(JsonScanTest, BoundsDepthWhenAsked) {
  EXPECT_TRUE(scan("[[[]]]", nullptr, 3));
  auto r = scan("[[[[]]]]", nullptr, 3);
  EXPECT_EQ(r.error, errc::too_deep);
  EXPECT_EQ(r.offset, 3u);
  EXPECT_EQ(scan(R"({"a":{"b":[1]}})", nullptr, 2).error, errc::too_deep);
  // A problem before the bound is reached is reported first.
  EXPECT_EQ(scan("[[x[[", nullptr, 3).error, errc::unexpected_character);
}

// --- Differential: json_scan against nlohmann on a corpus of mutated envelopes. ---

const std::vector<std::string> envelopes = {
    R"({"id":"evt_2Hq9x7LmQ3","type":"appointment.created","business_id":"biz_bench",)"
    R"("livemode":true,"timestamp":"2026-04-19T10:32:00Z","data":{"id":"apt_000000000001",)"
    R"("status":"confirmed","client_id":"cli_00000001","service_id":"svc_hair_color",)"
    R"("staff_id":"stf_maria","starts_at":"2026-04-22T14:00:00-04:00",)"
    R"("ends_at":"2026-04-22T15:30:00-04:00","duration_minutes":90,"price_cents":18500}})",
    R"({"id":"evt_\u00e9\ud83d\ude00","type":"client.updated","business_id":"biz_1",)"
    R"("livemode":false,"timestamp":"2026-04-19T10:32:00.123+02:00","data":{"name":)"
    R"("Zo\u00eb \"Z\" \\\/\b\f\n\r\t 日本 😀","n":[0,-0,1.5e-3,-12E+7,3.0,1e308,null,true,)"
    R"(false,{},[]],"o":{"a":{"b":[[{}]]}}},"extra":[-1.25,"x"],"n":12,"z":null})",
    " {\n  \"id\" : \"evt_1\" ,\r\n\t\"type\":\"webhook.test\", \"business_id\":\"b\",\n"
    "  \"livemode\" : true , \"timestamp\" : \"2026-04-19T10:32:00Z\" , \"data\" : { } \n}\n",
};

kind kind_of(const json& j) {
  if (j.is_string()) return kind::string;
  if (j.is_boolean()) return kind::boolean;
  if (j.is_number()) return kind::number;
  if (j.is_object()) return kind::object;
  if (j.is_array()) return kind::array;
  return kind::null;
}

TEST(JsonScanTest, AgreesWithNlohmannOnMutatedEnvelopes) {
  std::vector<std::string> corpus = valid_docs;
  corpus.insert(corpus.end(), invalid_docs.begin(), invalid_docs.end());
  corpus.insert(corpus.end(), envelopes.begin(), envelopes.end());
  std::mt19937 rng(20260419);
  for (int i = 0; i < 3000; ++i)
    corpus.push_back(test::mutate_json(envelopes[i % envelopes.size()], rng));

  int accepted = 0, compared = 0;
  for (const auto& doc : corpus) {
    recorder r;
    const bool ours = static_cast<bool>(scan(doc, &r));
    ASSERT_EQ(ours, json::accept(doc))
        << shown(doc) << "\nours: " << describe(scan(doc).error) << " at byte " << scan(doc).offset;
    if (!ours) continue;
    ++accepted;
    const json j = json::parse(doc);
    ASSERT_EQ(r.root_kind, kind_of(j)) << shown(doc);
    if (!j.is_object()) continue;
    // nlohmann keeps the last of duplicate keys.
    std::map<std::string, recorder::entry> last;
    for (const auto& m : r.members) last[m.key] = m;
    ASSERT_EQ(last.size(), j.size()) << shown(doc);
    for (const auto& [key, v] : j.items()) {
      ASSERT_TRUE(last.count(key)) << shown(doc) << ": " << key;
      const auto& m = last[key];
      EXPECT_EQ(m.k, kind_of(v)) << shown(doc) << ": " << key;
      if (v.is_string()) {
        EXPECT_EQ(m.text, v.get<std::string>()) << shown(doc) << ": " << key;
      }
      if (v.is_boolean()) {
        EXPECT_EQ(m.flag, v.get<bool>()) << shown(doc) << ": " << key;
      }
    }
    ++compared;
  }
  // The corpus exercises both sides: mutations that stay valid and ones that do not.
  EXPECT_GT(accepted, 300);
  EXPECT_GT(static_cast<int>(corpus.size()) - accepted, 1000);
  EXPECT_GT(compared, 200);
}

}  // namespace
}  // namespace tresse::json_scan
