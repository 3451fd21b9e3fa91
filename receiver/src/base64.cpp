#include "base64.hpp"

#include <array>
#include <cstdint>

namespace tresse::receiver::detail {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::uint8_t kInvalid = 0xff;

constexpr std::array<std::uint8_t, 256> make_table() {
  std::array<std::uint8_t, 256> t{};
  for (auto& v : t) v = kInvalid;
  for (std::uint8_t i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = i;
  return t;
}
constexpr std::array<std::uint8_t, 256> kTable = make_table();

// Strips valid padding; returns the unpadded length, or kBad when the shape is wrong.
constexpr std::size_t kBad = static_cast<std::size_t>(-1);
std::size_t unpadded_length(std::string_view text, padding pad) noexcept {
  std::size_t n = text.size();
  if (n == 0) return kBad;
  if (pad == padding::required && n % 4 != 0) return kBad;
  if (n % 4 == 0) {
    if (text[n - 1] == '=') --n;
    if (text[n - 1] == '=') --n;
  }
  if (n % 4 == 1) return kBad;  // one leftover character carries no whole byte
  return n;
}

}  // namespace

void base64_encode(const unsigned char* data, std::size_t size, std::string& out) {
  out.reserve(out.size() + (size + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    const std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) |
                            std::uint32_t{data[i + 2]};
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (size - i == 1) {
    const std::uint32_t v = std::uint32_t{data[i]} << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (size - i == 2) {
    const std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
}

std::size_t base64_decoded_size(std::string_view text, padding pad) noexcept {
  const std::size_t n = unpadded_length(text, pad);
  if (n == kBad) return 0;
  return n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
}

std::size_t base64_decode(std::string_view text, unsigned char* out, std::size_t capacity,
                          padding pad) noexcept {
  const std::size_t n = unpadded_length(text, pad);
  if (n == kBad) return 0;
  const std::size_t size = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
  if (size > capacity) return 0;

  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t i = 0;
  std::size_t o = 0;
  // Invalid characters are collected in `bad` and checked once, keeping the loop branch-free;
  // the bytes written before a failure are garbage but the caller gets 0.
  std::uint8_t bad = 0;
  for (; i + 4 <= n; i += 4) {
    const std::uint8_t a = kTable[in[i]], b = kTable[in[i + 1]], c = kTable[in[i + 2]],
                       d = kTable[in[i + 3]];
    bad |= a | b | c | d;
    const std::uint32_t v = (std::uint32_t{a} << 18) | (std::uint32_t{b} << 12) |
                            (std::uint32_t{c} << 6) | std::uint32_t{d};
    out[o++] = static_cast<unsigned char>(v >> 16);
    out[o++] = static_cast<unsigned char>(v >> 8);
    out[o++] = static_cast<unsigned char>(v);
  }
  if (bad & 0x80) return 0;
  const std::size_t rest = n - i;
  if (rest == 2) {
    const std::uint8_t a = kTable[in[i]], b = kTable[in[i + 1]];
    if (((a | b) & 0x80) || (b & 0x0f) != 0) return 0;
    out[o++] = static_cast<unsigned char>((a << 2) | (b >> 4));
  } else if (rest == 3) {
    const std::uint8_t a = kTable[in[i]], b = kTable[in[i + 1]], c = kTable[in[i + 2]];
    if (((a | b | c) & 0x80) || (c & 0x03) != 0) return 0;
    out[o++] = static_cast<unsigned char>((a << 2) | (b >> 4));
    out[o++] = static_cast<unsigned char>(((b & 0x0f) << 4) | (c >> 2));
  }
  return o;
}

}  // namespace tresse::receiver::detail
