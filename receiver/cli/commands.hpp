// The tresse-webhook subcommands, each registered on the program with its flags; each action
// returns the process exit code (see input.hpp) or throws usage_error.
#pragma once

#include "tresse/cli/program.hpp"

namespace tresse::cli {

void add_sign_command(program& p);
void add_verify_command(program& p);
void add_listen_command(program& p);

}  // namespace tresse::cli
