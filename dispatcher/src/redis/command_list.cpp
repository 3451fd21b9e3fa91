#include "redis/command_list.hpp"

#include <algorithm>
#include <charconv>

namespace tresse::dispatcher::redis {
namespace {

void append_number(std::string& out, char tag, std::size_t n) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  out.push_back(tag);
  out.append(digits, end);
  out.append("\r\n", 2);
}

}  // namespace

template <class Range>
void command_list::encode(const Range& argv, std::size_t n) {
  std::size_t bytes = 16;
  for (const auto& a : argv) bytes += std::string_view(a).size() + 16;
  // Geometric: reserve(size + n) alone reallocates to exactly that on every command, copying
  // the whole pipeline so far each time (a batch's attempt-log body made that the bulk of it).
  if (const std::size_t need = resp_.size() + bytes; need > resp_.capacity()) {
    resp_.reserve(std::max(need, 2 * resp_.capacity()));
  }
  append_number(resp_, '*', n);  // an array of bulk strings
  for (const auto& a : argv) {
    const std::string_view s(a);
    append_number(resp_, '$', s.size());
    resp_.append(s);
    resp_.append("\r\n", 2);
  }
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
