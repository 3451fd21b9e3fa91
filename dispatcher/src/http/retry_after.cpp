#include "http/retry_after.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <string>
#include <vector>

namespace tresse::dispatcher::http {
namespace {

using std::chrono::seconds;

std::optional<std::int64_t> number(std::string_view s, std::size_t max_digits) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  std::int64_t v = 0;
  const auto [end, err] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (err != std::errc{} || end != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

std::optional<unsigned> month(std::string_view s) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto it = std::find(kMonths.begin(), kMonths.end(), s);
  if (it == kMonths.end()) return std::nullopt;
  return static_cast<unsigned>(it - kMonths.begin()) + 1;
}

std::optional<seconds> time_of_day(std::string_view s) {
  if (s.size() != 8 || s[2] != ':' || s[5] != ':') return std::nullopt;
  const auto h = number(s.substr(0, 2), 2);
  const auto m = number(s.substr(3, 2), 2);
  const auto sec = number(s.substr(6, 2), 2);
  if (!h || !m || !sec || *h > 23 || *m > 59 || *sec > 60) return std::nullopt;
  return std::chrono::hours(*h) + std::chrono::minutes(*m) + seconds(*sec);
}

std::vector<std::string_view> tokens(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == ',' || s[i] == '-')) ++i;
    const auto start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != ',' && s[i] != '-') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

// The three HTTP-date forms of RFC 9110 §5.6.7, all in GMT:
//   Sun, 06 Nov 1994 08:49:37 GMT    Sunday, 06-Nov-94 08:49:37 GMT    Sun Nov  6 08:49:37 1994
std::optional<std::chrono::system_clock::time_point> http_date(std::string_view s) {
  const auto t = tokens(s);
  std::optional<std::int64_t> day, year;
  std::optional<unsigned> mon;
  std::optional<seconds> tod;
  if (t.size() == 6 && t[5] == "GMT") {
    day = number(t[1], 2);
    mon = month(t[2]);
    year = number(t[3], 4);
    tod = time_of_day(t[4]);
    if (year && t[3].size() == 2) *year += *year < 70 ? 2000 : 1900;  // RFC 850
    if (year && t[3].size() == 3) year.reset();
  } else if (t.size() == 5) {
    mon = month(t[1]);
    day = number(t[2], 2);
    tod = time_of_day(t[3]);
    year = t[4].size() == 4 ? number(t[4], 4) : std::nullopt;
  }
  if (!day || !mon || !year || !tod) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year(static_cast<int>(*year)),
                                        std::chrono::month(*mon),
                                        std::chrono::day(static_cast<unsigned>(*day))};
  if (!ymd.ok()) return std::nullopt;
  return std::chrono::sys_days(ymd) + *tod;
}

}  // namespace

std::optional<seconds> parse_retry_after(std::string_view value,
                                         std::chrono::system_clock::time_point now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (!value.empty() && std::isdigit(static_cast<unsigned char>(value.front()))) {
    // More digits than fit are still a (very long) delay: clamp instead of rejecting.
    if (!std::all_of(value.begin(), value.end(),
                     [](unsigned char c) { return std::isdigit(c) != 0; })) {
      return std::nullopt;
    }
    const auto v = number(value, 12);
    return v ? std::min(seconds(*v), max_retry_after) : max_retry_after;
  }
  const auto when = http_date(value);
  if (!when) return std::nullopt;
  const auto delta = std::chrono::ceil<seconds>(*when - now);
  return std::clamp(delta, seconds(0), max_retry_after);
}

}  // namespace tresse::dispatcher::http
