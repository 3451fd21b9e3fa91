// The tresse-webhook subcommands. Each takes the arguments after its name and returns the
// process exit code (see args.hpp); usage errors are thrown as usage_error.
#pragma once

namespace tresse::cli {

int sign_command(int argc, const char* const* argv);
int verify_command(int argc, const char* const* argv);
int listen_command(int argc, const char* const* argv);

extern const char* const sign_help;
extern const char* const verify_help;
extern const char* const listen_help;

}  // namespace tresse::cli
