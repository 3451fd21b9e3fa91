// The bytes a JSON string carries as they are: printable ASCII except '"' and '\\'. Shared by
// the scanner (json_scan.hpp), which steps over them, and the writer (json_text.hpp), which
// copies them in one go: both meet such runs in every string of every event and record.
//
//   const unsigned char* end = tresse::json_plain::skip(p, p + n);  // the first other byte
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

namespace tresse::json_plain {

inline constexpr std::array<bool, 256> plain = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
  return t;
}();

// The end of the run of `plain` bytes from p: eight at a time, flagging in each word the
// bytes that are a control character, non-ASCII, '"' or '\\' (SWAR tests: a flag above the
// first true one may be false, the lowest one never is, so it is where the run ends).
// Take a local pointer, not a member: loads through unsigned char* may alias `this`, and a
// member would be stored and reloaded on every byte.
inline const unsigned char* skip(const unsigned char* p, const unsigned char* end) {
  constexpr std::uint64_t ones = 0x0101010101010101, highs = 0x8080808080808080;
  auto below = [](std::uint64_t w, std::uint64_t n) { return (w - ones * n) & ~w & highs; };
  if constexpr (std::endian::native == std::endian::little) {
    while (end - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      const std::uint64_t flags =
          below(w, 0x20) | below(w ^ (ones * '"'), 1) | below(w ^ (ones * '\\'), 1) | (w & highs);
      if (flags != 0) return p + std::countr_zero(flags) / 8;
      p += 8;
    }
  }
  while (p != end && plain[*p]) ++p;
  return p;
}

}  // namespace tresse::json_plain
