// Random edits of a JSON document, for differential tests against nlohmann::json: most edits
// break the document in one place, some leave it valid but different. And shown(), to print
// such a document in a failure message.
//
//   std::mt19937 rng(42);  // a fixed seed: the same corpus on every run
//   std::string doc = tresse::test::mutate_json(envelope, rng);
#pragma once

#include <cstddef>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>

namespace tresse::test {

// 1 to 3 edits: a byte replaced, a byte inserted, 1-3 bytes deleted, the rest cut off, or a
// slice of the document copied elsewhere (which duplicates keys and deepens nesting).
inline std::string mutate_json(std::string doc, std::mt19937& rng) {
  // Bytes likely to matter: structure, escapes, number parts, NUL, whitespace, UTF-8 lead and
  // continuation bytes at the edges of their ranges.
  static constexpr char bytes[] =
      "{}[]:,\"\\/u0123456789.eE+-tfnabrx \t\n\r\0\x7f\x80\x8f\x90\x9f\xa0\xbf"
      "\xc0\xc1\xc2\xdf\xe0\xed\xef\xf0\xf4\xf5\xff";
  constexpr std::string_view interesting(bytes, sizeof bytes - 1);  // with the NUL
  auto pick = [&](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
  };
  auto some_byte = [&] {
    return pick(2) == 0 ? interesting[pick(interesting.size())] : static_cast<char>(pick(256));
  };
  const std::size_t edits = 1 + pick(3);
  for (std::size_t i = 0; i < edits && !doc.empty(); ++i) {
    const std::size_t at = pick(doc.size());
    switch (pick(5)) {
      case 0:
        doc[at] = some_byte();
        break;
      case 1:
        doc.insert(at, 1, some_byte());
        break;
      case 2:
        doc.erase(at, 1 + pick(3));
        break;
      case 3:
        doc.resize(at);
        break;
      default:
        doc.insert(at, doc.substr(pick(doc.size()), 1 + pick(12)));
        break;
    }
  }
  return doc;
}

// The document as C source, so a failure message shows its bytes (the first 200).
inline std::string shown(std::string_view doc) {
  std::string out;
  for (unsigned char c : doc.substr(0, 200)) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return doc.size() > 200 ? out + "... (" + std::to_string(doc.size()) + " bytes)" : out;
}

}  // namespace tresse::test
