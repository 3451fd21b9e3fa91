// Replies read off a Redis connection (RESP2, what Redis speaks unless HELLO 3 asks for
// more), straight into redis::reply. It replaces hiredis's reader in the non-blocking client:
// hiredis builds a tree of its own objects, one calloc per element, which copy_reply then
// copied and freeReplyObject freed. On the Management API's busiest answer (a cached page: 27
// replies, ~80 strings) that was a third of the request's instructions.
//
// Resumable: elements of an array already read are kept while the rest arrives, so a large
// reply fed in small pieces is read once, not again with every piece.
//
//   resp_reader in;
//   in.feed(bytes, n);
//   for (;;) {
//     auto r = in.next();          // error ("protocol error: …"): not RESP; drop the connection
//     if (!r) ...; if (!*r) break;  // nullopt: more bytes needed
//     handle(std::move(**r));
//   }
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redis/client.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::redis {

class resp_reader {
 public:
  // Bounds on what a server may send: a bulk string of at most max_bulk bytes (Redis's own
  // proto-max-bulk-len default), arrays nested at most max_depth deep.
  static constexpr std::size_t max_bulk = 512u * 1024 * 1024;
  static constexpr std::size_t max_depth = 16;

  void feed(const char* data, std::size_t n) { buf_.append(data, n); }
  result<std::optional<reply>> next();

 private:
  // One element at pos_: a whole value, an array to fill (pushed onto stack_), or nothing yet.
  enum class step { value, array, incomplete };
  result<step> element(reply& out);

  struct frame {
    reply array;
    std::size_t left = 0;  // elements still to read
  };
  std::string buf_;
  std::size_t pos_ = 0;  // bytes of buf_ read
  std::vector<frame> stack_;
};

}  // namespace tresse::dispatcher::redis
