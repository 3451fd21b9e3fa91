// Flag parsing and JSON output shared by the ops subcommands (`endpoints`, `keys`,
// `deliveries`), so they all read flags and report errors the same way.
//
//   auto a = cli::args::parse(argc, argv, 2, {.values = {"--id", "--redis"}, .switches = {}});
//   if (!a) return cli::usage_error(usage, a.error().message);
//   auto redis = cli::redis_client(*a);   // --redis, else $TRESSE_REDIS_URL, else localhost
//   return cli::print(json{{"id", a->get("--id").value_or("")}});
//
// Output: results as indented JSON on stdout; errors as {"error": {"code", "message"}} on
// stderr. Exit codes: 0 done, 1 the action failed, 2 usage error.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "redis/client.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::cli {

struct flag_spec {
  std::set<std::string_view> values;    // flags followed by a value
  std::set<std::string_view> switches;  // flags on their own
  std::size_t max_positional = 0;       // arguments that are not flags, at most
};

class args {
 public:
  // Reads argv[first..argc). A permanent error names an unknown flag, a missing value or an
  // argument past spec.max_positional.
  static result<args> parse(int argc, char** argv, int first, const flag_spec& spec);

  std::optional<std::string> get(std::string_view flag) const;
  std::string value(std::string_view flag) const { return get(flag).value_or(""); }
  bool has(std::string_view flag) const { return flags_.contains(flag); }
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string, std::less<>> flags_;
  std::vector<std::string> positional_;
};

// $name when set and non-empty, else `fallback`.
std::string env_or(const char* name, std::string fallback);

// A one-connection client for --redis URL (else $TRESSE_REDIS_URL, else the local default);
// a permanent error for a malformed URL.
result<std::shared_ptr<redis::client>> redis_client(const args& a);

int print(const nlohmann::json& j);
int print_error(int code, std::string_view kind, std::string_view message);
// Prints `usage` and the message; returns 2.
int usage_error(std::string_view usage, std::string_view message);
// Exit 1 with "unavailable" (Redis unreachable) or "invalid_request".
int action_error(const error& e);

}  // namespace tresse::dispatcher::cli
