#include "receiver/cli/args.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

namespace tresse::cli {

options options::parse(int argc, const char* const* argv,
                       std::initializer_list<std::string_view> valued,
                       std::initializer_list<std::string_view> flags) {
  auto contains = [](std::initializer_list<std::string_view> list, std::string_view name) {
    return std::find(list.begin(), list.end(), name) != list.end();
  };
  options out;
  for (int i = 0; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (!arg.starts_with("--") || arg.size() == 2) {
      throw usage_error("unexpected argument '" + std::string(arg) + "'");
    }
    std::string_view name = arg.substr(2);
    std::optional<std::string_view> inline_value;
    if (auto eq = name.find('='); eq != std::string_view::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (contains(flags, name)) {
      if (inline_value) throw usage_error("--" + std::string(name) + " takes no value");
      out.values_[std::string(name)].emplace_back();
    } else if (contains(valued, name)) {
      if (inline_value) {
        out.values_[std::string(name)].emplace_back(*inline_value);
      } else if (i + 1 < argc) {
        out.values_[std::string(name)].emplace_back(argv[++i]);
      } else {
        throw usage_error("--" + std::string(name) + " needs a value");
      }
    } else {
      throw usage_error("unknown option --" + std::string(name));
    }
  }
  return out;
}

bool options::has(std::string_view name) const { return values_.find(name) != values_.end(); }

std::vector<std::string> options::all(std::string_view name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::optional<std::string> options::optional(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second.back();
}

std::string options::required(std::string_view name) const {
  auto v = optional(name);
  if (!v) throw usage_error("--" + std::string(name) + " is required");
  return *v;
}

std::int64_t options::integer(std::string_view name, std::int64_t fallback, std::int64_t min,
                              std::int64_t max) const {
  auto text = optional(name);
  if (!text) return fallback;
  std::int64_t value = 0;
  const char* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (ec != std::errc() || ptr != end || text->empty()) {
    throw usage_error("--" + std::string(name) + " must be an integer, got '" + *text + "'");
  }
  if (value < min || value > max) {
    throw usage_error("--" + std::string(name) + " must be between " + std::to_string(min) +
                      " and " + std::to_string(max));
  }
  return value;
}

namespace {

// A copy of a file or variable full of secrets, wiped however parsing ends.
struct wiped_text {
  std::string text;
  ~wiped_text() {
    if (!text.empty()) OPENSSL_cleanse(text.data(), text.size());
  }
};

void add_key(std::vector<receiver::key>& keys, std::string_view secret, const std::string& where) {
  std::error_code ec;
  keys.push_back(receiver::key::parse(secret, ec));
  if (ec) {
    // Never echo the secret itself.
    throw invalid_secret_error(where +
                               " is not a valid secret (expected whsec_<base64>, whsk_<base64> "
                               "or whpk_<base64>)");
  }
}

// Adds a key for every secret in `text`, separated by whitespace; '#' starts a comment that runs
// to the end of its line. Returns how many there were.
std::size_t add_keys(std::vector<receiver::key>& keys, std::string_view text,
                     const std::string& where) {
  constexpr std::string_view space = " \t\r\n";
  std::size_t n = 0;
  for (;;) {
    const std::size_t start = text.find_first_not_of(space);
    if (start == std::string_view::npos) return n;
    text.remove_prefix(start);
    const bool comment = text.front() == '#';
    const std::size_t end = std::min(text.find_first_of(comment ? "\n" : space), text.size());
    if (!comment) add_key(keys, text.substr(0, end), where + " #" + std::to_string(++n));
    text.remove_prefix(end);
  }
}

}  // namespace

std::vector<receiver::key> parse_secrets(const options& opts) {
  std::vector<receiver::key> keys;
  const auto secrets = opts.all("secret");
  for (std::size_t i = 0; i < secrets.size(); ++i) {
    add_key(keys, secrets[i], "--secret #" + std::to_string(i + 1));
  }
  for (const std::string& path : opts.all("secret-file")) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw usage_error("cannot read --secret-file " + path + ": " + std::strerror(errno));
    wiped_text content;
    content.text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (in.bad()) throw usage_error("cannot read --secret-file " + path);
    if (add_keys(keys, content.text, "--secret-file " + path + " secret") == 0) {
      throw usage_error("--secret-file " + path + " holds no secret");
    }
  }
  if (secrets.empty() && !opts.has("secret-file")) {
    if (const char* env = std::getenv(secret_env); env != nullptr) {
      const wiped_text content{env};
      add_keys(keys, content.text, std::string(secret_env) + " secret");
    }
  }
  if (keys.empty()) {
    throw usage_error("a secret is required: --secret KEY, --secret-file FILE or " +
                      std::string(secret_env));
  }
  return keys;
}

std::string read_body(const std::optional<std::string>& path) {
  if (path) {
    std::ifstream in(*path, std::ios::binary);
    if (!in) throw usage_error("cannot read --body-file " + *path + ": " + std::strerror(errno));
    std::ostringstream content;
    content << in.rdbuf();
    return std::move(content).str();
  }
  std::string body;
  char chunk[64 * 1024];
  std::size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, stdin)) > 0) body.append(chunk, n);
  if (std::ferror(stdin)) throw usage_error("cannot read the body from stdin");
  return body;
}

}  // namespace tresse::cli
