#include "ops/output.hpp"

#include <iostream>

namespace tresse::dispatcher::ops {

int print(const nlohmann::json& j) {
  std::cout << j.dump(2) << "\n";
  return 0;
}

int print_error(int code, std::string_view kind, std::string_view message) {
  std::cerr << nlohmann::json{{"error", {{"code", kind}, {"message", message}}}}.dump() << "\n";
  return code;
}

int action_error(const error& e) {
  return print_error(1, e.kind == error_kind::transient ? "unavailable" : "invalid_request",
                     e.message);
}

}  // namespace tresse::dispatcher::ops
