#include "http/response_parser.hpp"

#include <algorithm>
#include <charconv>
#include <limits>

#include "http/header_syntax.hpp"

namespace tresse::dispatcher::http {
namespace {

constexpr std::size_t kMaxHeaderValueKept = 256;
constexpr std::size_t kMaxChunkSizeLine = 1024;  // hex size and extensions
constexpr std::string_view kCrlf = "\r\n";

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A field value may hold visible characters, SP, HTAB and obs-text; no other control.
bool valid_field_value(std::string_view v) {
  return std::none_of(v.begin(), v.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return (c < 0x20 && c != '\t') || c == 0x7F;
  });
}

// Calls `each` with every non-empty element of a comma-separated list.
template <class F>
void for_each_element(std::string_view list, F each) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto element = trim_ows(list.substr(0, comma));
    if (!element.empty()) each(element);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace

bool response_parser::fail(std::string why) {
  state_ = state::failed;
  error_ = std::move(why);
  return false;
}

std::size_t response_parser::parse(std::string_view bytes) {
  std::size_t used = 0;
  if (state_ == state::head) {
    const auto end = bytes.find("\r\n\r\n");
    const bool too_large = end == std::string_view::npos ? bytes.size() > max_header_
                                                         : end + 4 > max_header_;
    if (too_large) fail("response header larger than " + std::to_string(max_header_) + " bytes");
    if (too_large || end == std::string_view::npos) return 0;
    if (!parse_head(bytes.substr(0, end + 2))) return 0;
    used = end + 4;
    head_complete_ = true;
    response_.status = status_;
    state_ = framing_ == framing::none || (framing_ == framing::length && remaining_ == 0)
                 ? state::done
                 : state::body;
  }
  if (state_ == state::body) used += parse_body(bytes.substr(used));
  // A full snippet ends the reading when more body data is due: the rest is never read.
  if (state_ == state::body && response_.body_snippet.size() >= max_body_ && expects_data()) {
    state_ = state::capped;
  }
  return used;
}

void response_parser::end_of_stream() {
  if (state_ == state::body && framing_ == framing::to_close) {
    state_ = state::done;
  } else if (state_ == state::head) {
    fail("connection closed before a complete response header");
  } else if (state_ == state::body) {
    fail("connection closed in the middle of the response body");
  }
}

bool response_parser::parse_head(std::string_view head) {
  auto eol = head.find(kCrlf);
  if (!parse_status_line(head.substr(0, eol))) return false;
  for (auto pos = eol + 2; pos < head.size(); pos = eol + 2) {
    eol = head.find(kCrlf, pos);
    const auto line = head.substr(pos, eol - pos);
    if (line.front() == ' ' || line.front() == '\t') {
      return fail("malformed response header: obsolete line folding");
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
      return fail("malformed response header field");
    }
    const auto value = trim_ows(line.substr(colon + 1));
    if (!valid_field_value(value)) return fail("control character in a response header value");
    if (!on_field(line.substr(0, colon), value)) return false;
  }

  const bool bodiless = status_ / 100 == 1 || status_ == 204 || status_ == 304;
  if (bodiless) {
    framing_ = framing::none;
  } else if (has_transfer_encoding_) {
    // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length; a final coding other than
    // chunked runs to the close.
    framing_ = chunked_ ? framing::chunked : framing::to_close;
  } else if (content_length_) {
    framing_ = framing::length;
    remaining_ = *content_length_;
  } else {
    framing_ = framing::to_close;
  }
  return true;
}

// "HTTP/1.1 200 OK": the version's minor digit, a three-digit status, an optional reason.
bool response_parser::parse_status_line(std::string_view line) {
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || !is_digit(line[7]) || line[8] != ' ' ||
      !is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11]) ||
      (line.size() > 12 && line[12] != ' ') || line[9] == '0') {
    return fail("malformed response status line");
  }
  minor_version_ = line[7] - '0';
  status_ = static_cast<unsigned>((line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0'));
  return true;
}

bool response_parser::on_field(std::string_view name, std::string_view value) {
  if (iequals(name, "content-length")) {
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (value.empty() || ec != std::errc() || end != value.data() + value.size()) {
      return fail("invalid Content-Length in the response");
    }
    if (content_length_ && *content_length_ != n) return fail("conflicting Content-Length");
    content_length_ = n;
  } else if (iequals(name, "transfer-encoding")) {
    has_transfer_encoding_ = true;
    for_each_element(value, [&](std::string_view coding) { chunked_ = iequals(coding, "chunked"); });
  } else if (iequals(name, "connection")) {
    for_each_element(value, [&](std::string_view option) {
      if (iequals(option, "close")) close_ = true;
      if (iequals(option, "keep-alive")) keep_alive_ = true;
    });
  }
  for (auto kept : kept_response_headers) {
    if (iequals(name, kept)) {
      response_.headers.emplace_back(std::string(kept),
                                     std::string(value.substr(0, kMaxHeaderValueKept)));
    }
  }
  return true;
}

bool response_parser::keep_body(std::string_view data) {
  auto& snippet = response_.body_snippet;
  const std::size_t room = max_body_ > snippet.size() ? max_body_ - snippet.size() : 0;
  snippet.append(data.substr(0, room));
  if (data.size() <= room) return true;
  state_ = state::capped;
  return false;
}

bool response_parser::expects_data() const {
  switch (framing_) {
    case framing::length:
      return remaining_ > 0;
    case framing::to_close:
      return true;
    case framing::chunked:
      return chunk_ == chunk_step::data;
    case framing::none:
      return false;
  }
  return false;
}

std::size_t response_parser::parse_body(std::string_view bytes) {
  if (framing_ == framing::chunked) return parse_chunked(bytes);
  if (framing_ == framing::to_close) {
    return keep_body(bytes) ? bytes.size() : 0;
  }
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, bytes.size()));
  if (!keep_body(bytes.substr(0, n))) return 0;
  remaining_ -= n;
  if (remaining_ == 0) state_ = state::done;
  return n;
}

std::size_t response_parser::parse_chunked(std::string_view bytes) {
  std::size_t used = 0;
  while (state_ == state::body && used < bytes.size()) {
    const auto rest = bytes.substr(used);
    switch (chunk_) {
      case chunk_step::size_line: {
        const auto eol = rest.find(kCrlf);
        if (eol == std::string_view::npos) {
          if (rest.size() > kMaxChunkSizeLine) fail("chunk size line too long");
          return used;
        }
        if (eol > kMaxChunkSizeLine) {
          fail("chunk size line too long");
          return used;
        }
        // The size in hex, then optional ";extensions", which we ignore.
        const auto line = rest.substr(0, eol);
        const auto digits = line.substr(0, line.find_first_of("; \t"));
        std::uint64_t size = 0;
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), size, 16);
        if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
          fail("malformed chunk size in the response");
          return used;
        }
        remaining_ = size;
        chunk_ = size == 0 ? chunk_step::trailers : chunk_step::data;
        used += eol + 2;
        break;
      }
      case chunk_step::data: {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, rest.size()));
        if (!keep_body(rest.substr(0, n))) return used;
        used += n;
        remaining_ -= n;
        if (remaining_ == 0) chunk_ = chunk_step::data_end;
        break;
      }
      case chunk_step::data_end:
        if (rest.size() < 2) return used;
        if (rest.substr(0, 2) != kCrlf) {
          fail("malformed chunk in the response: no CRLF after its data");
          return used;
        }
        used += 2;
        chunk_ = chunk_step::size_line;
        break;
      case chunk_step::trailers: {
        // Trailer fields are read and dropped, bounded like the header; an empty line ends them.
        const auto eol = rest.find(kCrlf);
        const auto line_bytes = eol == std::string_view::npos ? rest.size() : eol + 2;
        if (trailer_bytes_ + line_bytes > max_header_) {
          fail("response trailers larger than " + std::to_string(max_header_) + " bytes");
          return used;
        }
        if (eol == std::string_view::npos) return used;
        trailer_bytes_ += line_bytes;
        used += line_bytes;
        if (eol == 0) state_ = state::done;
        break;
      }
    }
  }
  return used;
}

bool response_parser::reusable() const {
  const bool persistent = minor_version_ >= 1 ? !close_ : keep_alive_ && !close_;
  // Both framings at once may be a smuggling attempt (RFC 9112 §6.1): close after it.
  const bool ambiguous = has_transfer_encoding_ && content_length_;
  return state_ == state::done && persistent && !ambiguous && framing_ != framing::to_close &&
         status_ != 101;
}

response response_parser::take() {
  response_.body_truncated = state_ != state::done;
  return std::move(response_);
}

}  // namespace tresse::dispatcher::http
