#include "tresse/common/event.hpp"

#include <algorithm>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_set>

#include "tresse/common/ids.hpp"

namespace tresse::events {
namespace {

using json = nlohmann::json;

bool is_id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// Reads the envelope with nlohmann's SAX interface instead of building a DOM: only the
// top-level fields are kept, nesting is bounded while parsing, duplicate top-level keys are
// caught (two parsers could disagree on which one wins), and the parser's message is kept
// without exceptions.
class envelope_reader final : public nlohmann::json_sax<json> {
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
  bool binary(binary_t&) override { return value(kind::null); }  // not produced by JSON input
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
    // ex.what() is "[json.exception.parse_error.101] parse error at line 1, column 3: ...".
    std::string_view what = ex.what();
    if (auto pos = what.find("] "); pos != std::string_view::npos) what.remove_prefix(pos + 2);
    return fail("bad JSON: " + std::string(what));
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

  // Records a value's kind if it belongs to a top-level field; nullptr otherwise.
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
  static std::string printable(std::string_view s) {
    std::string out(s.substr(0, 64));
    for (char& c : out) {
      if (static_cast<unsigned char>(c) < 0x20) c = '?';
    }
    return out;
  }

  std::size_t depth_ = 0;
  field* current_ = nullptr;
  std::unordered_set<std::string> seen_;
};

const char* kind_name(envelope_reader::kind k) {
  switch (k) {
    case envelope_reader::kind::string:
      return "a string";
    case envelope_reader::kind::boolean:
      return "a boolean";
    case envelope_reader::kind::object:
      return "an object";
    default:
      return "";
  }
}

// Checks presence and JSON type of one field; the error names the field.
status expect(const envelope_reader::field& f, std::string_view name, envelope_reader::kind k) {
  if (f.k == envelope_reader::kind::absent) {
    return fail(error_kind::permanent, "missing field '" + std::string(name) + "'");
  }
  if (f.k != k) {
    return fail(error_kind::permanent, "field '" + std::string(name) + "' must be " + kind_name(k));
  }
  return {};
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

int days_in_month(int year, int month) {
  static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : days[month - 1];
}

}  // namespace

bool is_known_type(std::string_view type) {
  return std::find(known_types.begin(), known_types.end(), type) != known_types.end();
}

bool is_valid_id(std::string_view id) {
  return !id.empty() && id.size() <= max_id_length && std::all_of(id.begin(), id.end(), is_id_char);
}

bool is_rfc3339(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
  if (s.size() < 20 || s.size() > 64) return false;
  int year, month, day, hour, minute, second;
  if (!digits(s, 0, 4, year) || s[4] != '-' || !digits(s, 5, 2, month) || s[7] != '-' ||
      !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2, hour) ||
      s[13] != ':' || !digits(s, 14, 2, minute) || s[16] != ':' || !digits(s, 17, 2, second)) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    return false;
  }
  std::size_t pos = 19;
  if (s[pos] == '.') {
    std::size_t start = ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
    if (pos == start) return false;
  }
  if (pos >= s.size()) return false;
  if ((s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size()) return true;
  if (s[pos] != '+' && s[pos] != '-') return false;
  int off_hour, off_minute;
  return pos + 6 == s.size() && digits(s, pos + 1, 2, off_hour) && s[pos + 3] == ':' &&
         digits(s, pos + 4, 2, off_minute) && off_hour <= 23 && off_minute <= 59;
}

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view s) {
  if (!is_rfc3339(s)) return std::nullopt;
  int year, month, day, hour, minute, second;
  digits(s, 0, 4, year);
  digits(s, 5, 2, month);
  digits(s, 8, 2, day);
  digits(s, 11, 2, hour);
  digits(s, 14, 2, minute);
  digits(s, 17, 2, second);
  std::chrono::year_month_day ymd{std::chrono::year(year),
                                  std::chrono::month(static_cast<unsigned>(month)),
                                  std::chrono::day(static_cast<unsigned>(day))};
  auto t = std::chrono::sys_days(ymd) + std::chrono::hours(hour) + std::chrono::minutes(minute) +
           std::chrono::seconds(second);
  std::chrono::milliseconds fraction{0};
  std::size_t pos = 19;
  if (s[pos] == '.') {
    int scale = 100;
    for (++pos; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos, scale /= 10) {
      fraction += std::chrono::milliseconds((s[pos] - '0') * scale);
    }
  }
  if (s[pos] == '+' || s[pos] == '-') {
    int off_hour, off_minute;
    digits(s, pos + 1, 2, off_hour);
    digits(s, pos + 4, 2, off_minute);
    auto offset = std::chrono::hours(off_hour) + std::chrono::minutes(off_minute);
    t = s[pos] == '+' ? t - offset : t + offset;
  }
  return std::chrono::time_point_cast<std::chrono::system_clock::duration>(t + fraction);
}

result<event> parse_event(std::string_view bytes, std::size_t max_bytes) {
  using k = envelope_reader::kind;
  if (bytes.size() > max_bytes) {
    return fail(error_kind::permanent, "event is " + std::to_string(bytes.size()) +
                                           " bytes, more than the limit of " +
                                           std::to_string(max_bytes));
  }
  envelope_reader reader;
  bool ok = json::sax_parse(bytes.begin(), bytes.end(), &reader);
  if (!ok || !reader.error.empty()) {
    return fail(error_kind::permanent, reader.error.empty() ? "bad JSON" : reader.error);
  }
  // Field order of the checks is the order of the envelope in DESIGN.md.
  for (auto [f, name, want] : {std::tuple{&reader.id, "id", k::string},
                               {&reader.type, "type", k::string},
                               {&reader.business_id, "business_id", k::string},
                               {&reader.livemode, "livemode", k::boolean},
                               {&reader.timestamp, "timestamp", k::string},
                               {&reader.data, "data", k::object}}) {
    if (auto st = expect(*f, name, want); !st) return std::unexpected(st.error());
  }
  if (!is_valid_id(reader.id.text)) {
    return fail(error_kind::permanent, "field 'id' must match [A-Za-z0-9_-]{1,128}");
  }
  if (!is_known_type(reader.type.text)) {
    std::string shown = reader.type.text.substr(0, 64);
    for (char& c : shown) {
      if (static_cast<unsigned char>(c) < 0x20) c = '?';
    }
    return fail(error_kind::permanent, "unknown event type '" + shown + "'");
  }
  if (!is_valid_id(reader.business_id.text)) {
    return fail(error_kind::permanent, "field 'business_id' must match [A-Za-z0-9_-]{1,128}");
  }
  if (!is_rfc3339(reader.timestamp.text)) {
    return fail(error_kind::permanent, "field 'timestamp' is not an RFC 3339 date-time");
  }
  return event{.id = std::move(reader.id.text),
               .type = std::move(reader.type.text),
               .business_id = std::move(reader.business_id.text),
               .livemode = reader.livemode.flag,
               .timestamp = std::move(reader.timestamp.text),
               .raw = std::string(bytes)};
}

bool event_type_matches(std::string_view pattern, std::string_view type) {
  if (pattern == "*") return true;
  if (pattern.size() >= 2 && pattern.ends_with(".*")) {
    std::string_view prefix = pattern.substr(0, pattern.size() - 1);  // keeps the dot
    return type.size() > prefix.size() && type.starts_with(prefix);
  }
  return pattern == type;
}

bool is_valid_subscription(std::string_view pattern) {
  if (pattern == "*" || is_known_type(pattern)) return true;
  if (pattern.size() < 3 || !pattern.ends_with(".*")) return false;
  std::string_view prefix = pattern.substr(0, pattern.size() - 1);
  return std::any_of(known_types.begin(), known_types.end(),
                     [&](std::string_view t) { return t.starts_with(prefix); });
}

std::string format_rfc3339(std::chrono::system_clock::time_point t) {
  std::time_t secs =
      std::chrono::system_clock::to_time_t(std::chrono::floor<std::chrono::seconds>(t));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string new_event_id() { return "evt_" + ids::random_base62(22); }

}  // namespace tresse::events
