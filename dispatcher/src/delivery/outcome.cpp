#include "delivery/outcome.hpp"

#include <boost/asio/error.hpp>
#include <string_view>

#include "http/header_syntax.hpp"

namespace tresse::dispatcher {
namespace {

// The parser already dropped the value's surrounding whitespace; trimmed again for responses
// made elsewhere (tests).
bool asks_to_disable(std::string_view v) { return http::iequals(http::trim_ows(v), "disable"); }

outcome of_response(const http::response& r) {
  using action = outcome::action;
  const unsigned s = r.status;
  const bool throttle = s == 429 || s == 502 || s == 503 || s == 504;
  if (asks_to_disable(r.header("webhook-delivery"))) {
    return {action::disable_endpoint, std::nullopt, "disable_requested", throttle};
  }
  const std::string reason = "http_" + std::to_string(s);
  if (s == 410) return {action::disable_endpoint, std::nullopt, reason, false};
  if (s >= 200 && s < 300) return {action::delivered, std::nullopt, reason, false};
  if (s >= 300 && s < 400) return {action::retry, std::nullopt, "redirect_3xx", false};
  if (s == 429 || s == 503) return {action::retry, r.retry_after, reason, true};
  return {action::retry, std::nullopt, reason, throttle};
}

outcome of_failure(const http::failure& f) {
  using kind = http::failure_kind;
  outcome o{outcome::action::retry, std::nullopt, http::to_string(f.kind), false};
  if (f.kind == kind::timeout) o.throttle_signal = true;
  if (f.kind == kind::invalid_url) o.permanent = true;
  if (f.kind == kind::connect && f.code == boost::asio::error::connection_refused) {
    o.reason = "connect_refused";
  }
  return o;
}

}  // namespace

const char* to_string(outcome::action a) {
  switch (a) {
    case outcome::action::delivered:
      return "delivered";
    case outcome::action::retry:
      return "retry";
    case outcome::action::disable_endpoint:
      return "disable_endpoint";
  }
  return "unknown";
}

outcome classify_attempt(const std::expected<http::response, http::failure>& result) {
  return result ? of_response(*result) : of_failure(result.error());
}

}  // namespace tresse::dispatcher
