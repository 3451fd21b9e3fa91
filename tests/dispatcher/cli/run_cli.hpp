// Runs tresse-dispatcher's whole command line in-process (cli::main, the parser the binary uses)
// and captures what it prints.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "cli/command_line.hpp"

namespace tresse::test {

struct cli_result {
  int code = -1;
  std::string out, err;
};

// `args` without the program name. `run` is what `run` calls; by default a test failure.
inline cli_result run_cli(std::vector<std::string> args,
                          std::function<int(const dispatcher::cli::run_request&)> run = {}) {
  if (!run) {
    run = [](const dispatcher::cli::run_request&) {
      ADD_FAILURE() << "the daemon was started";
      return 99;
    };
  }
  args.insert(args.begin(), "tresse-dispatcher");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  cli_result r;
  r.code = dispatcher::cli::main(static_cast<int>(args.size()), argv.data(), run);
  r.out = ::testing::internal::GetCapturedStdout();
  r.err = ::testing::internal::GetCapturedStderr();
  return r;
}

}  // namespace tresse::test
