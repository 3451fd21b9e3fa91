#include "tresse/common/event.hpp"

#include <algorithm>
#include <array>
#include <ctime>
#include <string>
#include <unordered_set>
#include <vector>

#include "tresse/common/ids.hpp"
#include "tresse/common/json_scan.hpp"

namespace tresse::events {
namespace {

using json_scan::kind;

bool is_id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

std::string printable(std::string_view s) {
  std::string out(s.substr(0, 64));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  }
  return out;
}

// Keeps the envelope's top-level fields as json_scan reports them. Callbacks come in document
// order and the first failure stops the scan, so the reasons are those nlohmann's SAX reader
// gave: "not a JSON object" as soon as the root is seen, a duplicate at its key (two parsers
// could disagree on which one wins), whatever comes first in the bytes.
class envelope_reader final : public json_scan::handler {
 public:
  struct field {
    bool present = false;
    kind k = kind::null;
    std::string text;
    bool flag = false;
  };
  // In the order of `names`.
  std::array<field, 6> fields;
  static constexpr std::array<std::string_view, 6> names = {"id",       "type",      "business_id",
                                                            "livemode", "timestamp", "data"};
  std::string error;

  bool root(kind k) override { return k == kind::object || fail("event is not a JSON object"); }
  bool key(std::string_view k) override {
    current_ = nullptr;
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (k != names[i]) continue;
      if (seen_ & (1u << i)) return fail("duplicate field '" + printable(k) + "'");
      seen_ |= 1u << i;
      current_ = &fields[i];
      return true;
    }
    return first_time(k) || fail("duplicate field '" + printable(k) + "'");
  }
  bool member(const json_scan::value& v) override {
    if (current_ == nullptr) return true;
    current_->present = true;
    current_->k = v.k;
    current_->flag = v.flag;
    if (v.k == kind::string) current_->text.assign(v.text);
    return true;
  }

 private:
  bool fail(std::string message) {
    error = std::move(message);
    return false;
  }
  // Unknown keys: a short list for the usual handful, a hash set when an event has many (a
  // list would make an event with 100 000 keys quadratic).
  bool first_time(std::string_view k) {
    if (!many_.empty()) return many_.emplace(k).second;
    if (std::find(few_.begin(), few_.end(), k) != few_.end()) return false;
    if (few_.size() < 16) {
      few_.emplace_back(k);
      return true;
    }
    many_.insert(std::make_move_iterator(few_.begin()), std::make_move_iterator(few_.end()));
    return many_.emplace(k).second;
  }

  unsigned seen_ = 0;  // bit i: names[i] seen
  field* current_ = nullptr;
  std::vector<std::string> few_;
  std::unordered_set<std::string> many_;
};

const char* kind_name(kind k) {
  switch (k) {
    case kind::string:
      return "a string";
    case kind::boolean:
      return "a boolean";
    case kind::object:
      return "an object";
    default:
      return "";
  }
}

// Checks presence and JSON type of one field; the error names the field.
status expect(const envelope_reader::field& f, std::string_view name, kind k) {
  if (!f.present) {
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
  if (bytes.size() > max_bytes) {
    return fail(error_kind::permanent, "event is " + std::to_string(bytes.size()) +
                                           " bytes, more than the limit of " +
                                           std::to_string(max_bytes));
  }
  // JSON has no place for a raw NUL, but nlohmann (and json_scan, its twin) take one after the
  // top value as the end of input: the bytes behind it would reach endpoints unvalidated.
  if (const auto nul = bytes.find('\0'); nul != std::string_view::npos) {
    return fail(error_kind::permanent, "bad JSON: NUL byte at byte " + std::to_string(nul));
  }
  envelope_reader reader;
  if (auto r = json_scan::scan(bytes, &reader, max_depth); !r) {
    if (r.error == json_scan::errc::stopped) return fail(error_kind::permanent, reader.error);
    if (r.error == json_scan::errc::too_deep) {
      return fail(error_kind::permanent,
                  "nested deeper than " + std::to_string(max_depth) + " levels");
    }
    std::string why = "bad JSON: " + std::string(json_scan::describe(r.error));
    if (r.error != json_scan::errc::unexpected_end) why += " at byte " + std::to_string(r.offset);
    return fail(error_kind::permanent, std::move(why));
  }
  auto& [id, type, business_id, livemode, timestamp, data] = reader.fields;
  // Field order of the checks is the order of the envelope in DESIGN.md.
  for (auto [f, name, want] : {std::tuple{&id, "id", kind::string},
                               {&type, "type", kind::string},
                               {&business_id, "business_id", kind::string},
                               {&livemode, "livemode", kind::boolean},
                               {&timestamp, "timestamp", kind::string},
                               {&data, "data", kind::object}}) {
    if (auto st = expect(*f, name, want); !st) return std::unexpected(st.error());
  }
  if (!is_valid_id(id.text)) {
    return fail(error_kind::permanent, "field 'id' must match [A-Za-z0-9_-]{1,128}");
  }
  if (!is_known_type(type.text)) {
    return fail(error_kind::permanent, "unknown event type '" + printable(type.text) + "'");
  }
  if (!is_valid_id(business_id.text)) {
    return fail(error_kind::permanent, "field 'business_id' must match [A-Za-z0-9_-]{1,128}");
  }
  if (!is_rfc3339(timestamp.text)) {
    return fail(error_kind::permanent, "field 'timestamp' is not an RFC 3339 date-time");
  }
  return event{.id = std::move(id.text),
               .type = std::move(type.text),
               .business_id = std::move(business_id.text),
               .livemode = livemode.flag,
               .timestamp = std::move(timestamp.text),
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
