// Reads one HTTP/1.x response, as the delivery client needs it, from the bytes a connection
// received: the status line and header fields (at most `max_header` bytes, kept headers
// only), then at most `max_body` bytes of the body, framed by Content-Length, chunked coding
// or the connection's close. It does no I/O and allocates only the kept headers and the body
// snippet: Beast's parser, stream and per-operation timers were ~8 000 instructions an attempt.
//
//   response_parser p(16 * 1024, 4096);
//   used = p.parse(bytes);             // again with more bytes while p.wants_more()
//   p.end_of_stream();                 // when the peer closed
//   if (p.head_complete()) { response r = p.take(); bool again = p.reusable(); }
//   else if (p.failed()) log(p.error());
//
// Strict where a lax reading could desynchronise a reused connection: conflicting
// Content-Length, obsolete line folding, control characters in values, a malformed chunk
// size all fail. Interim responses (1xx but 101) are complete heads with no body: the caller
// starts a new parser on the bytes after them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/response.hpp"

namespace tresse::dispatcher::http {

class response_parser {
 public:
  response_parser(std::size_t max_header, std::size_t max_body)
      : max_header_(max_header), max_body_(max_body) {}

  // Parses from `bytes`, the received bytes not yet consumed; returns how many it consumed.
  std::size_t parse(std::string_view bytes);
  // The peer closed: ends a body that runs to the close; anything else unfinished fails.
  void end_of_stream();

  bool wants_more() const { return state_ == state::head || state_ == state::body; }
  bool head_complete() const { return head_complete_; }
  bool failed() const { return state_ == state::failed; }
  const std::string& error() const { return error_; }  // why it failed

  unsigned status() const { return status_; }
  bool interim() const { return head_complete_ && status_ / 100 == 1 && status_ != 101; }
  // The whole body arrived (within max_body), or it had none.
  bool complete() const { return state_ == state::done; }
  // Complete, and the connection may carry another request.
  bool reusable() const;
  // The status, kept headers and body snippet (body_truncated when not complete).
  response take();

 private:
  enum class state { head, body, done, capped, failed };
  enum class framing { none, length, chunked, to_close };
  enum class chunk_step { size_line, data, data_end, trailers };

  bool parse_head(std::string_view head);
  bool parse_status_line(std::string_view line);
  bool on_field(std::string_view name, std::string_view value);
  std::size_t parse_body(std::string_view bytes);
  std::size_t parse_chunked(std::string_view bytes);
  // Appends what fits of `data` to the snippet; false (and capped) when not all of it did.
  bool keep_body(std::string_view data);
  bool expects_data() const;
  bool fail(std::string why);

  std::size_t max_header_;
  std::size_t max_body_;
  state state_ = state::head;
  bool head_complete_ = false;
  std::string error_;

  unsigned status_ = 0;
  int minor_version_ = 1;
  bool close_ = false;       // Connection: close
  bool keep_alive_ = false;  // Connection: keep-alive (HTTP/1.0)
  bool has_transfer_encoding_ = false;
  bool chunked_ = false;  // chunked is the final transfer coding
  std::optional<std::uint64_t> content_length_;
  framing framing_ = framing::none;
  chunk_step chunk_ = chunk_step::size_line;
  std::uint64_t remaining_ = 0;  // of the body (length) or of the chunk (chunked)
  std::size_t trailer_bytes_ = 0;
  response response_;
};

}  // namespace tresse::dispatcher::http
