// One result type for everything on the dispatcher's paths.
//
// Errors carry a kind that decides what happens next: transient (retry with backoff),
// permanent (dead-letter / reject), fatal (stop the process). Exceptions are for start-up
// and configuration only; nothing on the delivery path throws.
//
//   tresse::result<int> parse_port(std::string_view s) {
//     if (s.empty()) return tresse::fail(tresse::error_kind::permanent, "port is empty");
//     ...
//   }
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace tresse {

enum class error_kind { transient, permanent, fatal };

struct error {
  error_kind kind = error_kind::permanent;
  std::string message;
};

template <class T>
using result = std::expected<T, error>;

using status = result<void>;

inline std::unexpected<error> fail(error_kind kind, std::string message) {
  return std::unexpected<error>(error{kind, std::move(message)});
}

inline const char* to_string(error_kind k) {
  switch (k) {
    case error_kind::transient: return "transient";
    case error_kind::permanent: return "permanent";
    case error_kind::fatal: return "fatal";
  }
  return "unknown";
}

}  // namespace tresse
