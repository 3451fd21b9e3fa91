// tresse-webhook: sign, verify and receive Standard Webhooks from a shell.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "receiver/cli/args.hpp"
#include "receiver/cli/commands.hpp"

namespace {

constexpr const char* usage = R"(usage: tresse-webhook <command> [options]

Sign, verify and receive Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature).

commands:
  sign     print the headers that sign a body
  verify   check a webhook's headers and body; exit 0 when valid, 1 when not
  listen   run an HTTP sink that verifies and prints every webhook it receives

Run 'tresse-webhook <command> --help' for its options. Exit codes: 0 ok, 1 rejected, 2 usage.
)";

bool wants_help(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tresse::cli;
  // A closed stdout pipe must end in an error, not in death by SIGPIPE mid-line.
  std::signal(SIGPIPE, SIG_IGN);

  if (argc < 2) {
    std::fputs(usage, stderr);
    return exit_usage;
  }
  std::string_view command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(usage, stdout);
    return exit_ok;
  }
  if (command == "--version") {
    std::printf("tresse-webhook %s\n", TRESSE_VERSION);
    return exit_ok;
  }

  struct entry {
    std::string_view name;
    int (*run)(int, const char* const*);
    const char* help;
  };
  const entry commands[] = {{"sign", sign_command, sign_help},
                            {"verify", verify_command, verify_help},
                            {"listen", listen_command, listen_help}};
  for (const auto& c : commands) {
    if (c.name != command) continue;
    if (wants_help(argc - 2, argv + 2)) {
      std::fputs(c.help, stdout);
      return exit_ok;
    }
    try {
      return c.run(argc - 2, argv + 2);
    } catch (const usage_error& e) {
      std::fprintf(stderr, "tresse-webhook %s: %s\nRun 'tresse-webhook %s --help' for usage.\n",
                   argv[1], e.what(), argv[1]);
      return exit_usage;
    }
  }
  std::fprintf(stderr, "tresse-webhook: unknown command '%s'\n\n%s", argv[1], usage);
  return exit_usage;
}
