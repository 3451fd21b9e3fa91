// What the tresse-webhook commands share besides their flags: the exit codes, the secrets (from
// --secret, --secret-file or TRESSE_WEBHOOK_SECRET) and the body (a file or stdin).
//
//   add_secret_flags(cmd, opts.secrets);                  // --secret, --secret-file
//   std::vector<receiver::key> keys = tresse::cli::parse_secrets(opts.secrets);
//   std::string body = tresse::cli::read_body(opts.body_file);
//
// Bad input throws usage_error (tresse/cli/program.hpp): the program prints it and exits 2.
#pragma once

#include <string>
#include <vector>

#include "tresse/cli/program.hpp"
#include "tresse/receiver/key.hpp"

namespace tresse::cli {

// Exit codes shared by every command (usage errors: exit_usage, from program.hpp).
inline constexpr int exit_ok = 0;
inline constexpr int exit_rejected = 1;  // verify: the webhook is not authentic

// A secret that does not parse: bad usage for sign and listen, an outcome for verify, which
// prints it as "invalid_secret" and exits 1 like any other rejection.
struct invalid_secret_error : usage_error {
  using usage_error::usage_error;
};

// Where secrets come from besides --secret, so that they need not be on the command line, where
// `ps` shows them: --secret-file FILE (one secret per line), or this variable (secrets separated
// by spaces) when neither option is given.
inline constexpr const char* secret_env = "TRESSE_WEBHOOK_SECRET";

struct secret_flags {
  std::vector<std::string> secrets;  // --secret KEY, repeatable
  std::vector<std::string> files;    // --secret-file FILE, repeatable
};

// Adds --secret and --secret-file to `cmd`.
void add_secret_flags(CLI::App& cmd, secret_flags& flags);

// How the help of a command that takes secrets ends.
inline constexpr const char* secret_env_note =
    "Without --secret and --secret-file, the secrets come from TRESSE_WEBHOOK_SECRET (separated\n"
    "by spaces), which keeps them off the command line, where ps shows them.";

// The keys of every --secret and every --secret-file (one secret per line; blank lines and
// lines starting with '#' are skipped) or, when neither option is given, of TRESSE_WEBHOOK_SECRET.
// Throws usage_error when there is no secret at all or a file cannot be read, and
// invalid_secret_error naming a secret that does not parse by where it came from (never by
// value).
std::vector<receiver::key> parse_secrets(const secret_flags& flags);

// The whole body: from `path`, or from stdin when `path` is empty. Throws usage_error when the
// file cannot be read.
std::string read_body(const std::string& path);

}  // namespace tresse::cli
