// The syntax of HTTP header fields (RFC 9110 §5), shared by the request the client writes and
// the response it parses.
#pragma once

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <string_view>

namespace tresse::dispatcher::http {

// RFC 9110 tchar: the characters a header name (and a coding or connection option) may have.
inline constexpr std::array<bool, 256> token_chars = [] {
  std::array<bool, 256> t{};
  for (int c = 0x21; c < 0x7F; ++c) t[c] = true;
  for (unsigned char c : std::string_view("()<>@,;:\\\"/[]?={} \t")) t[c] = false;
  return t;
}();

constexpr bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!token_chars[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

// A field value that cannot split the header: no CR, LF or NUL. One memchr per forbidden byte:
// a per-character find_first_of was ~1 000 instructions for a signature header.
inline bool is_field_value(std::string_view s) {
  for (char bad : {'\r', '\n', '\0'}) {
    if (std::memchr(s.data(), bad, s.size()) != nullptr) return false;
  }
  return true;
}

constexpr char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }
// The same for a whole string: schemes and host names compare so too (url.hpp, proxy.hpp).
inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = ascii_lower(c);
  return out;
}

// Header names, codings and options compare case-insensitively, in ASCII whatever the locale.
constexpr bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ascii_lower(x) == ascii_lower(y);
         });
}

// Without the optional whitespace (SP, HTAB) around a field value or a list element.
inline std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace tresse::dispatcher::http
