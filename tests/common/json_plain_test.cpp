#include "tresse/common/json_plain.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace tresse::json_plain {
namespace {

std::size_t run(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  return static_cast<std::size_t>(skip(p, p + s.size()) - p);
}

TEST(JsonPlainTest, PlainIsPrintableAsciiButQuoteAndBackslash) {
  for (int c = 0; c < 256; ++c) {
    EXPECT_EQ(plain[c], c >= 0x20 && c < 0x80 && c != '"' && c != '\\') << c;
  }
}

TEST(JsonPlainTest, SkipStopsAtTheFirstOtherByteWhereverItIs) {
  // Every kind of stop byte at every offset of a run longer than a few words, so both the
  // eight-byte steps and the byte-wise tail meet it, including after another stop's borrow.
  for (std::string stop : {std::string("\""), std::string("\\"), std::string(1, '\0'),
                           std::string("\x1f"), std::string("\x80"), std::string("\xff")}) {
    for (std::size_t at = 0; at < 40; ++at) {
      std::string s(40, 'a');
      s.replace(at, 1, stop);
      EXPECT_EQ(run(s), at) << "stop " << int(static_cast<unsigned char>(stop[0])) << " at " << at;
      s += "\"";  // a second stop after the first changes nothing
      EXPECT_EQ(run(s), at);
    }
  }
}

TEST(JsonPlainTest, AllPlainRunsToTheEnd) {
  for (std::size_t n : {0u, 1u, 7u, 8u, 9u, 16u, 100u}) {
    const std::string s(n, '~');
    EXPECT_EQ(run(s), n);
  }
  EXPECT_EQ(run(" !#[]{}~ 0123456789 abc"), 23u);
}

}  // namespace
}  // namespace tresse::json_plain
