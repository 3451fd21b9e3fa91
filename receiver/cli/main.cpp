// tresse-webhook: sign, verify and receive Standard Webhooks from a shell.
#include <csignal>

#include "receiver/cli/commands.hpp"
#include "tresse/cli/program.hpp"

int main(int argc, char** argv) {
  // A closed stdout pipe must end in an error, not in death by SIGPIPE mid-line.
  std::signal(SIGPIPE, SIG_IGN);
  tresse::cli::program program(
      "tresse-webhook",
      "Sign, verify and receive Standard Webhooks (webhook-id, webhook-timestamp, "
      "webhook-signature).");
  program.app().footer(
      "Run 'tresse-webhook <command> --help' for its options. Exit codes: 0 ok, 1 rejected, 2 "
      "usage.");
  tresse::cli::add_sign_command(program);
  tresse::cli::add_verify_command(program);
  tresse::cli::add_listen_command(program);
  return program.main(argc, argv);
}
