#include "tresse/common/ids.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>

namespace tresse::ids {
namespace {

// ASCII order, so fixed-width base62 strings sort like the numbers they encode.
constexpr std::string_view base62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

void append_random(std::string& out, std::size_t n) {
  std::size_t target = out.size() + n;
  while (out.size() < target) {
    std::array<unsigned char, 32> buf{};
    if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1) {
      // The CSPRNG failing is not recoverable; ids and keys must not collide or be guessed.
      std::abort();
    }
    for (unsigned char b : buf) {
      // 248 = 4 * 62: rejection sampling keeps the characters uniform.
      if (b < 248 && out.size() < target) out.push_back(base62[b % 62]);
    }
  }
}

}  // namespace

std::string random_base62(std::size_t n) {
  std::string out;
  out.reserve(n);
  append_random(out, n);
  return out;
}

std::string time_ordered(std::string_view prefix, std::chrono::system_clock::time_point now) {
  auto ms = static_cast<std::uint64_t>(std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count()));
  std::string id(prefix);
  std::array<char, 8> time_part{};
  for (int i = 7; i >= 0; --i) {
    time_part[static_cast<std::size_t>(i)] = base62[ms % 62];
    ms /= 62;
  }
  id.append(time_part.data(), time_part.size());
  append_random(id, 14);
  return id;
}

}  // namespace tresse::ids
