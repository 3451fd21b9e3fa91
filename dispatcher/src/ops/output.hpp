// How the ops subcommands (`endpoints`, `keys`, `deliveries`) answer: results as indented JSON
// on stdout, failures as {"error": {"code", "message"}} on stderr. Exit codes: 0 done, 1 the
// action failed, 2 bad usage (tresse::cli::usage_error, printed by the program).
//
//   if (!ep) return ops::action_error(ep.error());
//   return ops::print(to_json(*ep));
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "tresse/common/result.hpp"

namespace tresse::dispatcher::ops {

// Prints `j`; returns 0.
int print(const nlohmann::json& j);
// Prints {"error": {"code": kind, "message": message}} on stderr; returns `code`.
int print_error(int code, std::string_view kind, std::string_view message);
// Exit 1 with "unavailable" (Redis unreachable) or "invalid_request".
int action_error(const error& e);

}  // namespace tresse::dispatcher::ops
