// What the delivery client keeps of an endpoint's response (http/client.hpp, parsed by
// http/response_parser.hpp).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tresse::dispatcher::http {

// Response headers worth keeping for the outcome and the attempt log (lower-case names).
inline constexpr std::string_view kept_response_headers[] = {"content-type", "location",
                                                             "retry-after", "webhook-delivery"};

struct response {
  unsigned status = 0;
  std::optional<std::chrono::seconds> retry_after;           // parsed Retry-After, when valid
  std::vector<std::pair<std::string, std::string>> headers;  // kept_response_headers only
  std::string body_snippet;                                  // the first max_response_body bytes
  bool body_truncated = false;  // the body was longer (or ended early); the rest unread
  std::chrono::steady_clock::duration latency{};  // from post() to the end of the snippet

  // The value of a kept header ("" when absent); `name` in lower case.
  std::string_view header(std::string_view name) const;
};

}  // namespace tresse::dispatcher::http
