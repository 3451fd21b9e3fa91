// tresse-dispatcher's command line: every subcommand, its flags and its help, on CLI11
// (tresse/cli/program.hpp):
//
//   tresse-dispatcher run [--config FILE] [--set key=value]... [--check]
//   tresse-dispatcher healthcheck | dev-broker | endpoints ... | deliveries ... | keys ...
//
//   int main(int argc, char** argv) {
//     return tresse::dispatcher::cli::main(argc, argv, [](const cli::run_request& r) { ... });
//   }
//
// `run` itself lives in the daemon's main.cpp; the ops subcommands in ops/.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tresse::dispatcher::cli {

// What `run` was given.
struct run_request {
  std::optional<std::string> config_file;  // --config FILE, -c FILE
  std::vector<std::string> overrides;      // --set key=value, repeatable, in order
  bool check = false;                      // --check: validate, connect, report, exit
};

// Parses argv (argv[0] is the program), runs the chosen subcommand (`run` by calling
// `run_daemon`) and returns the process exit code: 0 after --help or --version, 2 on bad usage.
int main(int argc, const char* const* argv,
         const std::function<int(const run_request&)>& run_daemon);

}  // namespace tresse::dispatcher::cli
