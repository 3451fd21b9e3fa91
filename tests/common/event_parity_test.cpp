// parse_event against the nlohmann SAX reader it replaced (kept here, verbatim but for names,
// as the reference): the same verdict and the same reason for every document, except the text
// after "bad JSON: ", which was nlohmann's own message.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "support/json_mutation.hpp"
#include "tresse/common/event.hpp"

namespace tresse::events {
namespace {

using json = nlohmann::json;

class reference_reader final : public nlohmann::json_sax<json> {
 public:
  enum class kind { absent, string, boolean, number, null, object, array };
  struct field {
    kind k = kind::absent;
    std::string text;
    bool flag = false;
  };

  field id, type, business_id, livemode, timestamp, data;
  std::string error;

  bool null() override { return value(kind::null); }
  bool boolean(bool v) override {
    if (field* f = value_field(kind::boolean)) f->flag = v;
    return error.empty();
  }
  bool number_integer(number_integer_t) override { return value(kind::number); }
  bool number_unsigned(number_unsigned_t) override { return value(kind::number); }
  bool number_float(number_float_t, const string_t&) override { return value(kind::number); }
  bool string(string_t& v) override {
    if (field* f = value_field(kind::string)) f->text = std::move(v);
    return error.empty();
  }
  bool binary(binary_t&) override { return value(kind::null); }
  bool start_object(std::size_t) override { return open(kind::object); }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override { return open(kind::array); }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool key(string_t& k) override {
    if (depth_ != 1) return true;
    if (!seen_.insert(k).second) return fail("duplicate field '" + printable(k) + "'");
    current_ = field_for(k);
    return true;
  }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    std::string_view what = ex.what();
    if (auto pos = what.find("] "); pos != std::string_view::npos) what.remove_prefix(pos + 2);
    return fail("bad JSON: " + std::string(what));
  }

  static std::string printable(std::string_view s) {
    std::string out(s.substr(0, 64));
    for (char& c : out) {
      if (static_cast<unsigned char>(c) < 0x20) c = '?';
    }
    return out;
  }

 private:
  field* field_for(std::string_view k) {
    if (k == "id") return &id;
    if (k == "type") return &type;
    if (k == "business_id") return &business_id;
    if (k == "livemode") return &livemode;
    if (k == "timestamp") return &timestamp;
    if (k == "data") return &data;
    return nullptr;
  }
  field* value_field(kind k) {
    if (depth_ == 0) {
      fail("event is not a JSON object");
      return nullptr;
    }
    if (depth_ != 1 || current_ == nullptr) return nullptr;
    current_->k = k;
    return current_;
  }
  bool value(kind k) {
    value_field(k);
    return error.empty();
  }
  bool open(kind k) {
    if (depth_ == 0 && k != kind::object) return fail("event is not a JSON object");
    if (depth_ == 1 && current_ != nullptr) current_->k = k;
    if (++depth_ > max_depth)
      return fail("nested deeper than " + std::to_string(max_depth) + " levels");
    return true;
  }
  bool fail(std::string message) {
    if (error.empty()) error = std::move(message);
    return false;
  }

  std::size_t depth_ = 0;
  field* current_ = nullptr;
  std::unordered_set<std::string> seen_;
};

// The old parse_event: "ok <id> <type> <business_id> <livemode> <timestamp>" or the reason.
std::string reference(std::string_view bytes) {
  using k = reference_reader::kind;
  reference_reader r;
  bool ok = json::sax_parse(bytes.begin(), bytes.end(), &r);
  if (!ok || !r.error.empty()) return r.error.empty() ? "bad JSON" : r.error;
  const char* names[] = {"a string", "a boolean", "an object"};
  for (auto [f, name, want, what] : {std::tuple{&r.id, "id", k::string, names[0]},
                                     {&r.type, "type", k::string, names[0]},
                                     {&r.business_id, "business_id", k::string, names[0]},
                                     {&r.livemode, "livemode", k::boolean, names[1]},
                                     {&r.timestamp, "timestamp", k::string, names[0]},
                                     {&r.data, "data", k::object, names[2]}}) {
    if (f->k == k::absent) return "missing field '" + std::string(name) + "'";
    if (f->k != want) return "field '" + std::string(name) + "' must be " + what;
  }
  if (!is_valid_id(r.id.text)) return "field 'id' must match [A-Za-z0-9_-]{1,128}";
  if (!is_known_type(r.type.text)) {
    return "unknown event type '" + reference_reader::printable(r.type.text) + "'";
  }
  if (!is_valid_id(r.business_id.text)) {
    return "field 'business_id' must match [A-Za-z0-9_-]{1,128}";
  }
  if (!is_rfc3339(r.timestamp.text)) return "field 'timestamp' is not an RFC 3339 date-time";
  return "ok " + r.id.text + " " + r.type.text + " " + r.business_id.text + " " +
         (r.livemode.flag ? "true" : "false") + " " + r.timestamp.text;
}

std::string current(std::string_view bytes) {
  auto ev = parse_event(bytes);
  if (!ev) return ev.error().message;
  EXPECT_EQ(ev->raw, bytes);
  return "ok " + ev->id + " " + ev->type + " " + ev->business_id + " " +
         (ev->livemode ? "true" : "false") + " " + ev->timestamp;
}

using test::shown;

void expect_same(const std::string& doc) {
  const std::string want = reference(doc), got = current(doc);
  // The one deliberate change: a NUL byte anywhere is refused (the old reader let one end the
  // input and passed what followed it on).
  if (want.starts_with("bad JSON: ") || doc.find('\0') != std::string::npos) {
    EXPECT_TRUE(got.starts_with("bad JSON: "))
        << shown(doc) << "\nwas: " << want << "\nnow: " << got;
  } else {
    EXPECT_EQ(got, want) << shown(doc);
  }
}

std::string nested(int levels, const std::string& inner = "1") {
  std::string s;
  for (int i = 0; i < levels; ++i) s += i % 2 ? "[" : "{\"k\":";
  s += inner;
  for (int i = levels - 1; i >= 0; --i) s += i % 2 ? "]" : "}";
  return s;
}

const std::string kHead = R"({"id":"evt_2Hq9x7LmQ3","type":"appointment.created",)"
                          R"("business_id":"biz_bench","livemode":true,)"
                          R"("timestamp":"2026-04-19T10:32:00Z",)";

const std::vector<std::string> envelopes = {
    kHead + R"("data":{"id":"apt_000000000001","status":"confirmed","duration_minutes":90}})",
    // Escapes in the fields (the id unescapes to a valid one), unknown and nested keys.
    R"({"x":1,"id":"evt\u005f1","type":"client.\u0064eleted","business_id":"b\u0069z",)"
    R"("livemode":false,"timestamp":"2026-04-19T10:32:00.5+02:00","data":{"id":[1,{"id":2}]},)"
    R"("y":"\ud83d\ude00","z":[null]})",
    // Nesting at the bound: the root is level 1, data 2, and 62 more inside it.
    kHead + "\"data\":" + nested(63) + "}",
    // Every field of the wrong kind, in reverse order.
    R"({"data":[],"timestamp":1,"livemode":"true","business_id":null,"type":{},"id":false})",
};

TEST(EventParityTest, GivesTheOldReasonForHandWrittenEvents) {
  std::vector<std::string> docs = envelopes;
  for (std::string d : {"",
                        " ",
                        "[1,2]",
                        "[\xff",
                        "42",
                        "42x",
                        "\"evt\"",
                        "\"evt",
                        "null",
                        "nul",
                        "{",
                        "{}",
                        "{\"id\"",
                        "{\"id\":",
                        "{\"id\":1,\"id\"",
                        "{\"id\":1,\"id\":",
                        "{\"\\u0069d\":1,\"id\":2}",
                        "{\"a\":1,\"a\"",
                        "{\"a\":1,\"b\":2,\"a\"",
                        "\xEF\xBB\xBF{}",
                        "{}\0x",
                        "{\"id\":1e400}",
                        "{\"type\":\"a\\u0000b\"}"}) {
    docs.push_back(d);
  }
  docs.push_back(std::string("{}\0x", 4));
  docs.push_back(kHead + "\"data\":" + nested(64) + "}");  // one level too deep
  docs.push_back(kHead + "\"data\":" + nested(64, "x") + "}");
  docs.push_back(kHead + "\"data\":" + nested(63, "x") + "}");
  docs.push_back(kHead + "\"data\":{}}   \xff");
  docs.push_back(kHead + "\"data\":{}, \"type\":\"x\"}");
  docs.push_back(kHead + "\"data\":{}, \"TYPE\":\"x\"}");
  std::string many = "{";
  for (int i = 0; i < 100; ++i) many += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  docs.push_back(many + "\"k57\":0}");  // a duplicate past the short list of unknown keys
  docs.push_back(many + "\"k100\":0}");
  for (const auto& d : docs) expect_same(d);
}

TEST(EventParityTest, GivesTheOldReasonForMutatedEvents) {
  std::mt19937 rng(19);
  int ok = 0, refused = 0;  // valid events; valid JSON refused by the field checks
  for (int i = 0; i < 4000; ++i) {
    const std::string doc = test::mutate_json(envelopes[i % envelopes.size()], rng);
    expect_same(doc);
    const std::string why = reference(doc);
    ok += why.starts_with("ok ");
    refused += !why.starts_with("ok ") && !why.starts_with("bad JSON");
  }
  // Both sides are exercised: some mutations keep a valid event (in whitespace, unknown fields,
  // data), others hit every field check, the root and the depth checks.
  EXPECT_GT(ok, 80);
  EXPECT_GT(refused, 300);
}

}  // namespace
}  // namespace tresse::events
