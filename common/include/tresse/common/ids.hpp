// Identifiers: prefixed base62 strings, from OpenSSL's CSPRNG.
//
//   tresse::ids::random_base62(22);                       // "k3Jx..." (22 chars)
//   tresse::ids::time_ordered("we_", clock::now());        // "we_" + 8 time chars + 14 random
//
// Time-ordered ids sort (as plain strings) in creation order to the millisecond, which is what
// cursor pagination relies on: "after this id" is "created later". Those one thread makes sort
// in the order it made them, within a millisecond too (the next one's random part is the last
// one's plus a random step).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace tresse::ids {

// `n` uniformly random characters of [0-9A-Za-z].
std::string random_base62(std::size_t n);

// prefix + 8 base62 characters of the Unix time in ms (fixed width, so lexical order is time
// order) + 14 random ones.
std::string time_ordered(std::string_view prefix,
                         std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

}  // namespace tresse::ids
