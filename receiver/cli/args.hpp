// Command-line options of tresse-webhook: `--name value`, `--name=value` and flags.
//
//   auto opts = tresse::cli::options::parse(argc - 2, argv + 2, {"secret", "id"}, {"quiet"});
//   std::vector<std::string> secrets = opts.all("secret");
//   std::int64_t ts = opts.integer("timestamp", 0, 0, INT64_MAX);
//
// Bad usage throws usage_error (start-up only); main() prints it and exits 2.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "tresse/receiver/key.hpp"

namespace tresse::cli {

// Exit codes shared by every command.
inline constexpr int exit_ok = 0;
inline constexpr int exit_rejected = 1;  // verify: the webhook is not authentic
inline constexpr int exit_usage = 2;

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A secret that does not parse: bad usage for sign and listen, an outcome for verify, which
// prints it as "invalid_secret" and exits 1 like any other rejection.
struct invalid_secret_error : usage_error {
  using usage_error::usage_error;
};

// Where secrets come from besides --secret, so that they need not be on the command line, where
// `ps` shows them: --secret-file FILE (one secret per line), or this variable (secrets separated
// by spaces) when neither option is given.
inline constexpr const char* secret_env = "TRESSE_WEBHOOK_SECRET";

class options {
 public:
  // `valued` options take one value each time they appear; `flags` take none. Anything else,
  // a missing value or a positional argument is a usage_error.
  static options parse(int argc, const char* const* argv,
                       std::initializer_list<std::string_view> valued,
                       std::initializer_list<std::string_view> flags);

  bool has(std::string_view name) const;
  // Every value given for `name`, in order.
  std::vector<std::string> all(std::string_view name) const;
  // The last value given; throws usage_error when absent.
  std::string required(std::string_view name) const;
  std::optional<std::string> optional(std::string_view name) const;
  // The last value as a decimal integer in [min, max], or `fallback` when absent.
  std::int64_t integer(std::string_view name, std::int64_t fallback, std::int64_t min,
                       std::int64_t max) const;

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
};

// The keys of every --secret and every --secret-file (one secret per line; blank lines and
// lines starting with '#' are skipped) or, when neither option is given, of TRESSE_WEBHOOK_SECRET.
// Throws usage_error when there is no secret at all or a file cannot be read, and
// invalid_secret_error naming a secret that does not parse by where it came from (never by
// value).
std::vector<receiver::key> parse_secrets(const options& opts);

// The whole body: from `path`, or from stdin when `path` is empty. Throws usage_error when the
// file cannot be read.
std::string read_body(const std::optional<std::string>& path);

}  // namespace tresse::cli
