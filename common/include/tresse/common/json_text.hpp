// Writing JSON text directly, for hot paths where building a DOM first costs more than the
// answer itself (the Management API lists endpoints this way).
//
//   std::string out = "{";
//   tresse::json_text::append_key(out, "url");            // "url":
//   tresse::json_text::append_string(out, ep.url);        // "https://..."
//
// Strings are escaped as RFC 8259 requires ("\"", "\\", control characters); invalid UTF-8
// becomes U+FFFD, as nlohmann::json's dump(error_handler_t::replace) does, so the text always
// parses.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tresse::json_text {

void append_string(std::string& out, std::string_view s);
// "key": (with the comma before it unless `out` ends with '{' or '[').
void append_key(std::string& out, std::string_view key);
void append_int(std::string& out, std::int64_t v);
void append_bool(std::string& out, bool v);

}  // namespace tresse::json_text
