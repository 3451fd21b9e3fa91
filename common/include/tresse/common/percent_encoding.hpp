// Percent-decoding (RFC 3986), the one decoder for URL parts: the Management API's paths and
// query strings, and the user and password of a redis:// URL.
//
//   tresse::percent_decode("p%40ss")                   // "p@ss"
//   tresse::percent_decode("a+b", {.plus_is_space = true})  // "a b" (query strings)
//   tresse::percent_decode("%zz")                      // nullopt: malformed escape
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tresse {

// 0..15 for a hex digit (either case), -1 for anything else.
int hex_digit_value(char c);

struct percent_decode_options {
  bool plus_is_space = false;  // application/x-www-form-urlencoded, as query strings use it
};

// `s` with every %XX replaced by its byte; nullopt when a '%' is not followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view s, percent_decode_options options = {});

}  // namespace tresse
