#include "redis/resp_reader.hpp"

#include <charconv>
#include <cstring>
#include <utility>

namespace tresse::dispatcher::redis {

namespace {

std::unexpected<error> protocol_error(std::string what) {
  return fail(error_kind::permanent, "protocol error: " + std::move(what));
}

}  // namespace

result<resp_reader::step> resp_reader::element(reply& out) {
  const std::string_view rest = std::string_view(buf_).substr(pos_);
  const std::size_t eol = rest.find("\r\n");
  if (eol == std::string_view::npos) {
    // A header line is short: a long one without its end is no RESP.
    if (rest.size() > 64 * 1024) return protocol_error("line too long");
    return step::incomplete;
  }
  if (eol == 0) return protocol_error("empty line");
  const char type = rest[0];
  const std::string_view line = rest.substr(1, eol - 1);
  auto number = [&]() -> std::optional<std::int64_t> {
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), v);
    if (ec != std::errc() || end != line.data() + line.size()) return std::nullopt;
    return v;
  };
  const std::size_t after_line = pos_ + eol + 2;
  switch (type) {
    case '+':
    case '-':
      out.type = type == '+' ? reply::kind::status : reply::kind::error;
      out.str.assign(line);
      pos_ = after_line;
      return step::value;
    case ':': {
      const auto v = number();
      if (!v) return protocol_error("bad integer");
      out.type = reply::kind::integer;
      out.integer = *v;
      pos_ = after_line;
      return step::value;
    }
    case '$': {
      const auto len = number();
      if (!len || *len < -1 || *len > static_cast<std::int64_t>(max_bulk)) {
        return protocol_error("bad bulk length");
      }
      if (*len == -1) {
        out.type = reply::kind::nil;
        pos_ = after_line;
        return step::value;
      }
      const auto n = static_cast<std::size_t>(*len);
      if (buf_.size() < after_line + n + 2) return step::incomplete;
      if (buf_.compare(after_line + n, 2, "\r\n") != 0) return protocol_error("bulk not terminated");
      out.type = reply::kind::string;
      out.str.assign(buf_, after_line, n);
      pos_ = after_line + n + 2;
      return step::value;
    }
    case '*': {
      const auto count = number();
      if (!count || *count < -1 || *count > static_cast<std::int64_t>(max_bulk)) {
        return protocol_error("bad array length");
      }
      pos_ = after_line;
      if (*count <= 0) {
        out.type = *count == -1 ? reply::kind::nil : reply::kind::array;
        return step::value;
      }
      if (stack_.size() == max_depth) return protocol_error("arrays nested too deep");
      frame f;
      f.array.type = reply::kind::array;
      // Reserved up to a bound only: the count is the server's word, the elements are not here yet.
      f.array.elements.reserve(std::min<std::size_t>(static_cast<std::size_t>(*count), 1024));
      f.left = static_cast<std::size_t>(*count);
      stack_.push_back(std::move(f));
      return step::array;
    }
    default:
      return protocol_error(std::string("unexpected type byte '") + type + "'");
  }
}

result<std::optional<reply>> resp_reader::next() {
  for (;;) {
    reply value;
    auto s = element(value);
    if (!s) return std::unexpected(std::move(s.error()));
    if (*s == step::incomplete) {
      // Read bytes go once they are half the buffer: one move per buffer's worth, not per reply.
      if (pos_ > 0 && pos_ * 2 >= buf_.size()) {
        buf_.erase(0, pos_);
        pos_ = 0;
      }
      return std::optional<reply>();
    }
    if (*s == step::array) continue;
    // A whole value: it completes the innermost array, which may complete the one around it.
    while (!stack_.empty()) {
      frame& top = stack_.back();
      top.array.elements.push_back(std::move(value));
      if (--top.left > 0) break;
      value = std::move(top.array);
      stack_.pop_back();
    }
    if (stack_.empty()) {
      if (pos_ == buf_.size()) {
        buf_.clear();
        pos_ = 0;
      }
      return std::optional<reply>(std::move(value));
    }
  }
}

}  // namespace tresse::dispatcher::redis
