// The command-line conventions every tresse program shares, on CLI11: `--flag value` and
// `--flag=value`, `--help` and `--version` on the program and on every subcommand (exit 0),
// usage errors on stderr with the command's usage line (exit 2).
//
//   tresse::cli::program p("tresse-webhook", "Sign, verify and receive Standard Webhooks.");
//   auto opts = std::make_shared<sign_options>();
//   CLI::App& sign = p.command(p.app(), "sign", "print the headers that sign a body",
//                              [opts] { return sign_command(*opts); });
//   sign.add_option("--id", opts->id, "the webhook-id")->required();
//   return p.main(argc, argv);
//
// An action runs after the whole command line parsed; it may throw usage_error for what
// CLI11 cannot check (two options that exclude each other, an unreadable file).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>

namespace tresse::cli {

inline constexpr int exit_usage = 2;

// Bad usage found by an action; main() prints it like a parse error and exits 2.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Number checks whose messages say what is allowed ("--rate: must be 0 or more") and that keep
// the help's type column short; CLI11's own print the whole range of a double in both.
CLI::Validator non_negative();
CLI::Validator positive();
CLI::Validator in_range(std::int64_t min, std::int64_t max);

class program {
 public:
  // `name` is what usage lines and --version print ("tresse-dispatcher").
  program(std::string name, std::string description);

  CLI::App& app() { return app_; }

  // A subcommand of `parent` (app() or another command) with --help and --version. `action`
  // runs when it is the command chosen; a command without one needs a subcommand.
  CLI::App& command(CLI::App& parent, std::string name, std::string description,
                    std::function<int()> action = {});

  // The action of the program itself, when it has no subcommands (tresse-publish).
  void action(std::function<int()> action);

  // Parses argv (argv[0] is the program), runs the chosen action and returns the exit code:
  // 0 after --help, --version or --help-all (the program's alone: every command's help, for
  // the man page), 2 on bad usage, else the action's.
  int main(int argc, const char* const* argv);

 private:
  void on_chosen(CLI::App& app, std::function<int()> action);

  CLI::App app_;
  std::string version_;
  std::function<int()> chosen_;
};

}  // namespace tresse::cli
