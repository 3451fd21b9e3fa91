#include "tresse/common/json_text.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

#include "tresse/common/json_plain.hpp"

namespace tresse::json_text {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not valid.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  std::size_t n;
  std::uint32_t cp;
  if (c < 0x80) return 1;
  if ((c & 0xe0) == 0xc0) {
    n = 2;
    cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3;
    cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
  static constexpr std::array<std::uint32_t, 5> min = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

// Where the first byte of s at or after `i` that cannot go into a JSON string as it is
// (json_plain.hpp) is; s.size() when none.
std::size_t plain_end(std::string_view s, std::size_t i) {
  const auto* begin = reinterpret_cast<const unsigned char*>(s.data());
  return static_cast<std::size_t>(json_plain::skip(begin + i, begin + s.size()) - begin);
}

}  // namespace

void append_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  // Most strings are one run of plain characters: found, reserved and copied at once.
  std::size_t i = plain_end(s, 0);
  // Geometric: reserve(size + n) alone reallocates to exactly that, every call, copying all
  // that came before (quadratic over a document of many strings).
  if (const std::size_t need = out.size() + s.size() + 2; need > out.capacity()) {
    out.reserve(std::max(need, 2 * out.capacity()));
  }
  if (i == s.size()) {  // written in place: quote, bytes, quote
    // The callback's size is not used: libstdc++ 12 passes the grown capacity there when it
    // reallocates, so the length written is the one computed here.
    const std::size_t at = out.size();
    const std::size_t total = at + s.size() + 2;
    out.resize_and_overwrite(total, [&](char* p, std::size_t) {
      p[at] = '"';
      if (!s.empty()) std::memcpy(p + at + 1, s.data(), s.size());
      p[total - 1] = '"';
      return total;
    });
    return;
  }
  out.push_back('"');
  out.append(s.data(), i);
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      std::size_t n = utf8_length(s, i);
      if (n == 0) {
        out += "\xef\xbf\xbd";  // U+FFFD
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
    } else {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:  // the other control characters
          out += "\\u00";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 0xf]);
      }
      ++i;
    }
    // The run of plain characters after it, in one append.
    const std::size_t plain = plain_end(s, i);
    out.append(s.data() + i, plain - i);
    i = plain;
  }
  out.push_back('"');
}

void append_key(std::string& out, std::string_view key) {
  if (!out.empty() && out.back() != '{' && out.back() != '[') out.push_back(',');
  append_string(out, key);
  out.push_back(':');
}

void append_int(std::string& out, std::int64_t v) {
  std::array<char, 24> buf{};
  auto [p, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  out.append(buf.data(), p);
}

void append_bool(std::string& out, bool v) { out += v ? "true" : "false"; }

}  // namespace tresse::json_text
