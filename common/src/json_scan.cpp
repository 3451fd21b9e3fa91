#include "tresse/common/json_scan.hpp"

#include <array>
#include <bit>
#include <charconv>
#include <cstring>
#include <string>
#include <system_error>
#include <vector>

#include "tresse/common/json_plain.hpp"

namespace tresse::json_scan {
namespace {

using byte = unsigned char;

constexpr std::array<bool, 256> byte_table(bool (*pred)(int)) {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = pred(c);
  return t;
}

constexpr auto space =
    byte_table([](int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });

bool is_digit(byte c) { return c >= '0' && c <= '9'; }

// The end of the run of plain bytes from p (json_plain.hpp).
const byte* skip_plain(const byte* p, const byte* end) { return json_plain::skip(p, end); }

void append(std::string& out, const byte* from, const byte* to) {
  out.append(reinterpret_cast<const char*>(from), static_cast<std::size_t>(to - from));
}

int hex_value(byte c) {
  if (c >= '0' && c <= '9') return c - '0';
  c |= 0x20;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// One bit per open container (1 = object). The first 64 levels live in a word, so an envelope
// (parse_event allows 64) never allocates; deeper ones spill to the heap.
class kind_stack {
 public:
  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  bool top_is_object() const { return (word(size_ - 1) >> ((size_ - 1) % 64)) & 1; }
  void push(bool object) {
    std::size_t i = size_ / 64;
    if (i > 0 && i > spill_.size()) spill_.push_back(0);
    std::uint64_t& w = i == 0 ? first_ : spill_[i - 1];
    const std::uint64_t bit = std::uint64_t{1} << (size_ % 64);
    w = object ? (w | bit) : (w & ~bit);
    ++size_;
  }
  void pop() { --size_; }

 private:
  std::uint64_t word(std::size_t level) const {
    return level < 64 ? first_ : spill_[level / 64 - 1];
  }
  std::uint64_t first_ = 0;
  std::vector<std::uint64_t> spill_;
  std::size_t size_ = 0;
};

class scanner {
 public:
  scanner(std::string_view doc, handler* h, std::size_t max_depth)
      : begin_(reinterpret_cast<const byte*>(doc.data())),
        p_(begin_),
        end_(begin_ + doc.size()),
        h_(h),
        max_depth_(max_depth) {}

  outcome run();

 private:
  bool fail(errc e, const byte* at) {
    result_ = {e, static_cast<std::size_t>(at - begin_)};
    return false;
  }
  // Running out of input mid-token is "unexpected end", anything else is `e`.
  bool fail_here(errc e) { return p_ == end_ ? fail(errc::unexpected_end, p_) : fail(e, p_); }

  void skip_space() {
    const byte* p = p_;
    if (p != end_ && *p > ' ') return;  // the usual case: tokens back to back
    while (p != end_ && space[*p]) ++p;
    p_ = p;
  }
  // Members of the root object are the values reported at depth 1.
  bool reporting_members() const { return h_ != nullptr && stack_.size() == 1 && root_is_object_; }
  // Members of a root member object the handler descended into, at depth 2.
  bool reporting_inner() const { return inner_ && stack_.size() == 2; }
  bool report(const value& v, const byte* at);
  bool open(bool object);
  bool scan_key();
  bool scan_string(bool keep, std::string_view* out);
  bool scan_escape(bool keep);
  bool scan_utf8();
  bool scan_number();
  bool scan_literal(std::string_view word);

  const byte* const begin_;
  const byte* p_;
  const byte* const end_;
  handler* const h_;
  const std::size_t max_depth_;
  kind_stack stack_;
  bool root_is_object_ = false;
  bool inner_ = false;   // the depth-2 container open now is reported (handler::descend)
  std::string scratch_;  // unescaped text of a reported string that had escapes
  outcome result_;
};

bool scanner::report(const value& v, const byte* at) {
  if (h_ == nullptr) return true;
  bool go = true;
  if (stack_.empty()) {
    go = h_->root(v.k);
  } else if (reporting_members()) {
    go = h_->member(v);
  } else if (reporting_inner()) {
    go = h_->inner_member(v);
  }
  return go || fail(errc::stopped, at);
}

bool scanner::open(bool object) {
  const kind k = object ? kind::object : kind::array;
  if (stack_.empty()) root_is_object_ = object;
  if (!report({.k = k}, p_)) return false;
  if (max_depth_ != 0 && stack_.size() >= max_depth_) return fail(errc::too_deep, p_);
  if (stack_.size() == 1) inner_ = object && reporting_members() && h_->descend();
  stack_.push(object);
  ++p_;
  skip_space();
  return true;
}

// At the '"' of a key (or where one must be); leaves p_ at the member's value.
bool scanner::scan_key() {
  if (p_ == end_ || *p_ != '"') return fail_here(errc::unexpected_character);
  const byte* at = p_;
  const bool root_key = reporting_members();
  const bool inner_key = reporting_inner();
  std::string_view key;
  if (!scan_string(root_key || inner_key, &key)) return false;
  if (root_key && !h_->key(key)) return fail(errc::stopped, at);
  if (inner_key && !h_->inner_key(key)) return fail(errc::stopped, at);
  skip_space();
  if (p_ == end_ || *p_ != ':') return fail_here(errc::unexpected_character);
  ++p_;
  skip_space();
  return true;
}

// At the opening '"'; leaves p_ after the closing one. With `keep`, *out is the unescaped text.
bool scanner::scan_string(bool keep, std::string_view* out) {
  const byte* const start = ++p_;
  const byte* run = start;  // once escaped, scratch_ holds the text before `run`
  bool escaped = false;
  for (;;) {
    p_ = skip_plain(p_, end_);
    if (p_ == end_) return fail(errc::unexpected_end, p_);
    const byte c = *p_;
    if (c == '"') {
      if (keep) {
        if (escaped) {
          append(scratch_, run, p_);
          *out = scratch_;
        } else {
          *out = {reinterpret_cast<const char*>(start), static_cast<std::size_t>(p_ - start)};
        }
      }
      ++p_;
      return true;
    }
    if (c == '\\') {
      if (keep) {
        if (!escaped) scratch_.clear();
        append(scratch_, run, p_);
        escaped = true;
      }
      if (!scan_escape(keep)) return false;
      run = p_;
    } else if (c < 0x20) {
      return fail(errc::control_character, p_);
    } else if (!scan_utf8()) {
      return false;
    }
  }
}

// At a '\\'; appends the character it stands for to scratch_ when `keep`.
bool scanner::scan_escape(bool keep) {
  const byte* const at = p_++;
  if (p_ == end_) return fail(errc::unexpected_end, p_);
  char simple = 0;
  switch (*p_) {
    case '"':
      simple = '"';
      break;
    case '\\':
      simple = '\\';
      break;
    case '/':
      simple = '/';
      break;
    case 'b':
      simple = '\b';
      break;
    case 'f':
      simple = '\f';
      break;
    case 'n':
      simple = '\n';
      break;
    case 'r':
      simple = '\r';
      break;
    case 't':
      simple = '\t';
      break;
    case 'u':
      break;
    default:
      return fail(errc::invalid_escape, at);
  }
  ++p_;
  if (simple != 0) {
    if (keep) scratch_.push_back(simple);
    return true;
  }
  auto hex4 = [&](std::uint32_t& cp) {
    cp = 0;
    for (int i = 0; i < 4; ++i, ++p_) {
      if (p_ == end_) return fail(errc::unexpected_end, p_);
      const int v = hex_value(*p_);
      if (v < 0) return fail(errc::invalid_escape, at);
      cp = (cp << 4) | static_cast<std::uint32_t>(v);
    }
    return true;
  };
  std::uint32_t cp;
  if (!hex4(cp)) return false;
  if (cp >= 0xDC00 && cp <= 0xDFFF) return fail(errc::unpaired_surrogate, at);
  if (cp >= 0xD800 && cp <= 0xDBFF) {
    // nlohmann requires the low half right after, as another \u escape.
    if (p_ == end_ || (*p_ == '\\' && p_ + 1 == end_)) return fail(errc::unexpected_end, end_);
    if (p_[0] != '\\' || p_[1] != 'u') return fail(errc::unpaired_surrogate, at);
    p_ += 2;
    std::uint32_t low;
    if (!hex4(low)) return false;
    if (low < 0xDC00 || low > 0xDFFF) return fail(errc::unpaired_surrogate, at);
    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
  }
  if (keep) append_utf8(scratch_, cp);
  return true;
}

// At a byte >= 0x80 in a string: one well-formed UTF-8 sequence (Unicode's table 3-7, the
// ranges nlohmann checks), kept in place.
bool scanner::scan_utf8() {
  const byte* const at = p_;
  const byte c = *p_;
  int more;
  byte lo = 0x80, hi = 0xBF;  // range of the second byte; later ones are 80..BF
  if (c >= 0xC2 && c <= 0xDF) {
    more = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    more = 2;
    if (c == 0xE0) lo = 0xA0;  // overlong below U+0800
    if (c == 0xED) hi = 0x9F;  // U+D800..U+DFFF
  } else if (c >= 0xF0 && c <= 0xF4) {
    more = 3;
    if (c == 0xF0) lo = 0x90;  // overlong below U+10000
    if (c == 0xF4) hi = 0x8F;  // past U+10FFFF
  } else {
    return fail(errc::invalid_utf8, at);  // continuation bytes, C0, C1, F5..FF
  }
  ++p_;
  for (int i = 0; i < more; ++i, ++p_, lo = 0x80, hi = 0xBF) {
    if (p_ == end_) return fail(errc::unexpected_end, p_);
    if (*p_ < lo || *p_ > hi) return fail(errc::invalid_utf8, at);
  }
  return true;
}

// At a '-' or digit. Besides the grammar, nlohmann rejects a number strtod turns into ±inf:
// integers too long for 64 bits go through strtod as well.
bool scanner::scan_number() {
  const byte* const start = p_;
  if (*p_ == '-') ++p_;
  if (p_ == end_ || !is_digit(*p_)) return fail_here(errc::invalid_number);
  const byte* const int_start = p_;
  if (*p_ == '0') {
    ++p_;  // a leading zero ends the integer part: "01" is 0 followed by garbage
  } else {
    while (p_ != end_ && is_digit(*p_)) ++p_;
  }
  const bool int_zero = *int_start == '0';
  const std::int64_t int_digits = p_ - int_start;
  std::int64_t frac_zeros = 0;  // zeros after the '.' before the first other digit
  bool frac_nonzero = false;
  if (p_ != end_ && *p_ == '.') {
    const byte* const frac = ++p_;
    while (p_ != end_ && is_digit(*p_)) ++p_;
    if (p_ == frac) return fail_here(errc::invalid_number);
    if (int_zero) {
      const byte* q = frac;
      while (q != p_ && *q == '0') ++q;
      frac_zeros = q - frac;
      frac_nonzero = q != p_;
    }
  }
  std::int64_t exp = 0;
  if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
    ++p_;
    bool negative = false;
    if (p_ != end_ && (*p_ == '+' || *p_ == '-')) negative = *p_++ == '-';
    const byte* const digits = p_;
    for (; p_ != end_ && is_digit(*p_); ++p_) {
      if (exp < 1'000'000'000'000'000)
        exp = exp * 10 + (*p_ - '0');  // saturates, stays exact enough
    }
    if (p_ == digits) return fail_here(errc::invalid_number);
    if (negative) exp = -exp;
  }
  // The value is in [10^(lead-1), 10^lead). DBL_MAX is 1.797...e308, so only lead == 309 needs
  // a real conversion to see which way it rounds.
  std::int64_t lead;
  if (!int_zero) {
    lead = int_digits + exp;
  } else if (frac_nonzero) {
    lead = exp - frac_zeros;
  } else {
    return true;  // zero, whatever the exponent
  }
  if (lead <= 308) return true;
  if (lead >= 310) return fail(errc::number_overflow, start);
  double d;
  auto r =
      std::from_chars(reinterpret_cast<const char*>(start), reinterpret_cast<const char*>(p_), d);
  return r.ec != std::errc::result_out_of_range || fail(errc::number_overflow, start);
}

bool scanner::scan_literal(std::string_view word) {
  const byte* const at = p_;
  for (char w : word) {
    if (p_ == end_) return fail(errc::unexpected_end, p_);
    if (*p_ != static_cast<byte>(w)) return fail(errc::invalid_literal, at);
    ++p_;
  }
  return true;
}

outcome scanner::run() {
  // nlohmann skips a UTF-8 byte order mark, only as the very first bytes.
  if (p_ != end_ && *p_ == 0xEF) {
    if (end_ - p_ < 3 || p_[1] != 0xBB || p_[2] != 0xBF) {
      fail(end_ - p_ < 3 ? errc::unexpected_end : errc::unexpected_character, p_);
      return result_;
    }
    p_ += 3;
  }
  skip_space();
  bool need_value = true;  // false after a container closed: go straight to what follows it
  for (;;) {
    if (need_value) {
      if (p_ == end_) {
        fail(errc::unexpected_end, p_);
        return result_;
      }
      const byte* const at = p_;
      bool ok = true;
      switch (*p_) {
        case '{':
          if (!open(true)) return result_;
          if (p_ != end_ && *p_ == '}') {
            ++p_;
            stack_.pop();
            break;
          }
          if (!scan_key()) return result_;
          continue;
        case '[':
          if (!open(false)) return result_;
          if (p_ != end_ && *p_ == ']') {
            ++p_;
            stack_.pop();
            break;
          }
          continue;
        case '"': {
          const bool keep = reporting_members() || reporting_inner();
          value v{.k = kind::string};
          ok = scan_string(keep, &v.text) && report(v, at);
          break;
        }
        case 't':
          ok = scan_literal("true") && report({.k = kind::boolean, .flag = true}, at);
          break;
        case 'f':
          ok = scan_literal("false") && report({.k = kind::boolean, .flag = false}, at);
          break;
        case 'n':
          ok = scan_literal("null") && report({.k = kind::null}, at);
          break;
        case '-':
        case '0':
        case '1':
        case '2':
        case '3':
        case '4':
        case '5':
        case '6':
        case '7':
        case '8':
        case '9':
          ok = scan_number() && report({.k = kind::number}, at);
          break;
        default:
          ok = fail(errc::unexpected_character, p_);
          break;
      }
      if (!ok) return result_;
    }
    // A value is complete: what follows it depends on the container it is in.
    if (stack_.empty()) break;
    skip_space();
    if (p_ == end_) {
      fail(errc::unexpected_end, p_);
      return result_;
    }
    const bool object = stack_.top_is_object();
    if (*p_ == ',') {
      ++p_;
      skip_space();
      if (object && !scan_key()) return result_;
      need_value = true;
    } else if (*p_ == (object ? '}' : ']')) {
      ++p_;
      stack_.pop();
      need_value = false;
    } else {
      fail(errc::unexpected_character, p_);
      return result_;
    }
  }
  skip_space();
  // nlohmann's lexer reads a NUL byte as the end of the input (it was written for C strings),
  // so whatever follows one after the top value is ignored.
  if (p_ != end_ && *p_ != 0) fail(errc::unexpected_character, p_);
  return result_;
}

}  // namespace

outcome scan(std::string_view doc, handler* h, std::size_t max_depth) {
  return scanner(doc, h, max_depth).run();
}

std::string_view describe(errc e) {
  switch (e) {
    case errc::ok:
      return "no error";
    case errc::unexpected_end:
      return "unexpected end of input";
    case errc::unexpected_character:
      return "unexpected character";
    case errc::invalid_literal:
      return "invalid literal";
    case errc::invalid_number:
      return "invalid number";
    case errc::number_overflow:
      return "number out of range";
    case errc::invalid_escape:
      return "invalid escape in a string";
    case errc::unpaired_surrogate:
      return "unpaired UTF-16 surrogate in a \\u escape";
    case errc::control_character:
      return "unescaped control character in a string";
    case errc::invalid_utf8:
      return "invalid UTF-8 in a string";
    case errc::too_deep:
      return "nested too deep";
    case errc::stopped:
      return "stopped by the handler";
  }
  return "unknown error";
}

}  // namespace tresse::json_scan
