// A strict, non-recursive JSON scanner for reading an envelope's top-level fields without a
// DOM or a general-purpose parser (parse_event runs once per delivery).
//
//   struct fields final : tresse::json_scan::handler {
//     bool key(std::string_view k) override { ... return true; }          // "id"
//     bool member(const tresse::json_scan::value& v) override { ... }     // string "evt_1"
//   } f;
//   auto r = tresse::json_scan::scan(R"({"id":"evt_1","data":{"n":[1,2]}})", &f);
//   if (!r) std::cerr << tresse::json_scan::describe(r.error) << " at byte " << r.offset;
//
// The whole document is validated exactly as nlohmann::json::accept does, quirks included
// (tests/common/json_scan_test.cpp compares the two): RFC 8259 grammar, UTF-8 strings (no
// overlongs, no encoded surrogates, nothing past U+10FFFF), \u escapes with paired surrogates,
// and, as nlohmann does, a leading UTF-8 BOM is skipped, a NUL byte after the top value ends
// the input, and a number that would overflow a double is an error.
//
// Only the root object's own members are reported, and the members of those of its members
// that are objects the handler asks for (`descend`: one level, as data.id of an envelope);
// other nested content is validated without being copied. Nesting uses an explicit stack, so
// depth is bounded by memory, or by `max_depth`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tresse::json_scan {

enum class kind : std::uint8_t { string, boolean, number, null, object, array };

// Why a scan stopped.
enum class errc : std::uint8_t {
  ok,
  unexpected_end,
  unexpected_character,  // includes a bad BOM, trailing garbage, a missing ',' ':' ']' '}'
  invalid_literal,       // not true, false or null
  invalid_number,
  number_overflow,  // beyond a double's range (nlohmann's "number overflow")
  invalid_escape,
  unpaired_surrogate,  // a \u escape for half a surrogate pair
  control_character,   // U+0000..U+001F unescaped in a string
  invalid_utf8,
  too_deep,  // more than max_depth containers open
  stopped,   // the handler returned false
};

struct outcome {
  errc error = errc::ok;
  std::size_t offset = 0;  // byte where the error was found (the document's size at its end)
  explicit operator bool() const { return error == errc::ok; }
};

// A member of the root object. `text` is the unescaped string for kind::string (a view into
// the document, or into the scanner's buffer when the string had escapes: valid only during
// the call); `flag` is a boolean's value.
struct value {
  kind k = kind::null;
  bool flag = false;
  std::string_view text;
};

// Callbacks, in document order, each able to stop the scan by returning false. They run as
// soon as their token is complete (before anything after it is read), as nlohmann's SAX
// events do, so the first problem in the document is the one reported.
class handler {
 public:
  // The root value: a container as soon as it opens, a scalar once scanned.
  virtual bool root(kind) { return true; }
  // A key of the root object (unescaped), before its ':'.
  virtual bool key(std::string_view) { return true; }
  // That key's value: a container as soon as it opens, a scalar once scanned.
  virtual bool member(const value&) { return true; }
  // Asked right after member() reports an object: true, and that object's own members are
  // reported through inner_key and inner_member (then key and member go on after it).
  virtual bool descend() { return false; }
  virtual bool inner_key(std::string_view) { return true; }
  virtual bool inner_member(const value&) { return true; }

 protected:
  ~handler() = default;
};

// Scans `doc`; `h` may be null. `max_depth` 0 means no bound but memory; otherwise opening
// container number max_depth + 1 (the root counts as 1) stops with errc::too_deep.
outcome scan(std::string_view doc, handler* h = nullptr, std::size_t max_depth = 0);

// True if `doc` is one JSON text (nlohmann::json::accept(doc)).
inline bool valid(std::string_view doc) { return static_cast<bool>(scan(doc)); }

// "unexpected end of input", "invalid UTF-8 in a string", ...
std::string_view describe(errc e);

}  // namespace tresse::json_scan
