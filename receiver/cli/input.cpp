#include "receiver/cli/input.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

namespace tresse::cli {

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

void add_secret_flags(CLI::App& cmd, secret_flags& flags) {
  cmd.add_option("--secret", flags.secrets,
                 "whsec_<base64> (HMAC), whsk_<base64> (Ed25519) or whpk_<base64> (its public "
                 "key: verify only); repeatable (a rotation)")
      ->type_name("KEY")
      ->allow_extra_args(false);
  cmd.add_option("--secret-file", flags.files,
                 "secrets from FILE, one per line ('#' comments); repeatable")
      ->type_name("FILE")
      ->allow_extra_args(false);
}

std::vector<receiver::key> parse_secrets(const secret_flags& flags) {
  const auto& secrets = flags.secrets;
  const auto& secret_files = flags.files;
  std::vector<receiver::key> keys;
  for (std::size_t i = 0; i < secrets.size(); ++i) {
    add_key(keys, secrets[i], "--secret #" + std::to_string(i + 1));
  }
  for (const std::string& path : secret_files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw usage_error("cannot read --secret-file " + path + ": " + std::strerror(errno));
    wiped_text content;
    content.text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (in.bad()) throw usage_error("cannot read --secret-file " + path);
    if (add_keys(keys, content.text, "--secret-file " + path + " secret") == 0) {
      throw usage_error("--secret-file " + path + " holds no secret");
    }
  }
  if (secrets.empty() && secret_files.empty()) {
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

std::string read_body(const std::string& path) {
  if (!path.empty()) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw usage_error("cannot read --body-file " + path + ": " + std::strerror(errno));
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
