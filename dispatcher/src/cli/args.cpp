#include "cli/args.hpp"

#include <cstdlib>
#include <iostream>

namespace tresse::dispatcher::cli {

result<args> args::parse(int argc, char** argv, int first, const flag_spec& spec) {
  args out;
  for (int i = first; i < argc; ++i) {
    std::string_view f = argv[i];
    if (spec.switches.contains(f)) {
      out.flags_[std::string(f)] = "true";
    } else if (spec.values.contains(f)) {
      if (i + 1 >= argc) return fail(error_kind::permanent, std::string(f) + " needs a value");
      out.flags_[std::string(f)] = argv[++i];
    } else if (!f.starts_with("-") && out.positional_.size() < spec.max_positional) {
      out.positional_.emplace_back(f);
    } else if (spec.max_positional > 0 && !f.starts_with("-")) {
      return fail(error_kind::permanent, "unexpected argument " + std::string(f));
    } else {
      return fail(error_kind::permanent, "unknown flag " + std::string(f));
    }
  }
  return out;
}

std::optional<std::string> args::get(std::string_view flag) const {
  auto it = flags_.find(flag);
  return it == flags_.end() ? std::nullopt : std::optional<std::string>(it->second);
}

std::string env_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

result<std::shared_ptr<redis::client>> redis_client(const args& a) {
  auto opts = redis::parse_url(
      a.get("--redis").value_or(env_or("TRESSE_REDIS_URL", "redis://127.0.0.1:6379/0")));
  if (!opts) return std::unexpected(opts.error());
  opts->pool_size = 1;
  return std::make_shared<redis::client>(*opts);
}

int print(const nlohmann::json& j) {
  std::cout << j.dump(2) << "\n";
  return 0;
}

int print_error(int code, std::string_view kind, std::string_view message) {
  std::cerr << nlohmann::json{{"error", {{"code", kind}, {"message", message}}}}.dump() << "\n";
  return code;
}

int usage_error(std::string_view usage, std::string_view message) {
  std::cerr << usage;
  return print_error(2, "usage", message);
}

int action_error(const error& e) {
  return print_error(1, e.kind == error_kind::transient ? "unavailable" : "invalid_request",
                     e.message);
}

}  // namespace tresse::dispatcher::cli
