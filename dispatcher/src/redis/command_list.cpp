#include "redis/command_list.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace tresse::dispatcher::redis {
namespace {

// Writes tag, n in decimal and CRLF at `p`; returns the end (at most 23 bytes).
char* put_number(char* p, char tag, std::size_t n) {
  *p++ = tag;
  p = std::to_chars(p, p + 20, n).ptr;
  *p++ = '\r';
  *p++ = '\n';
  return p;
}

}  // namespace

template <class Range>
void command_list::encode(const Range& argv, std::size_t n) {
  // An upper bound first (each header at most 23 bytes), then every byte written in place:
  // no append's capacity check per piece.
  std::size_t bytes = 23;
  for (const auto& a : argv) bytes += std::string_view(a).size() + 25;
  const std::size_t old = resp_.size();
  // Geometric: reserve(size + n) alone reallocates to exactly that on every command, copying
  // the whole pipeline so far each time (a batch's attempt-log body made that the bulk of it).
  if (const std::size_t need = old + bytes; need > resp_.capacity()) {
    resp_.reserve(std::max(need, 2 * resp_.capacity()));
  }
  // Written in place, the unused end of the estimate cut off (no zero-filling first).
  resp_.resize_and_overwrite(old + bytes, [&](char* buf, std::size_t) {
    char* p = put_number(buf + old, '*', n);  // an array of bulk strings
    for (const auto& a : argv) {
      const std::string_view s(a);
      p = put_number(p, '$', s.size());
      if (!s.empty()) std::memcpy(p, s.data(), s.size());
      p += s.size();
      *p++ = '\r';
      *p++ = '\n';
    }
    return static_cast<std::size_t>(p - buf);
  });
  ++count_;
}

command_list command_list::of(const std::vector<std::vector<std::string>>& commands) {
  command_list out;
  for (const auto& argv : commands) out.add(argv);
  return out;
}

command_list& command_list::add(std::initializer_list<std::string_view> argv) {
  encode(argv, argv.size());
  return *this;
}

command_list& command_list::add(const std::vector<std::string>& argv) {
  encode(argv, argv.size());
  return *this;
}

command_list& command_list::add(const std::vector<std::string_view>& argv) {
  encode(argv, argv.size());
  return *this;
}

command_list& command_list::append(const command_list& more) {
  resp_ += more.resp_;
  count_ += more.count_;
  return *this;
}

}  // namespace tresse::dispatcher::redis
