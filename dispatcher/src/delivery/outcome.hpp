// What one delivery attempt's result means: the single table that turns an HTTP result into
// delivered / retry / disable_endpoint (DESIGN.md "Webhook requests").
//
//   auto r = co_await client.post(req);
//   outcome o = classify_attempt(r);
//   if (o.next == outcome::action::retry) schedule(backoff(attempt, o.retry_after));
//
// | result                                   | next             | reason            |
// | ---------------------------------------- | ---------------- | ----------------- |
// | `webhook-delivery: disable` header (any) | disable_endpoint | disable_requested |
// | 410 Gone                                 | disable_endpoint | http_410          |
// | 2xx                                      | delivered        | http_<status>     |
// | 3xx (redirects are not followed)         | retry            | redirect_3xx      |
// | 429, 503 (+ Retry-After carried)         | retry            | http_<status>     |
// | any other status                         | retry            | http_<status>     |
// | timeout                                  | retry            | timeout           |
// | connection refused / other connect error | retry            | connect_refused / connect |
// | invalid_url                              | retry, permanent | invalid_url       |
// | dns, tls, protocol, blocked_address,     | retry            | the failure kind  |
// | invalid_request, cancelled               |                  |                   |
//
// The disable header wins even over a 2xx: the endpoint asked to stop (the attempt log keeps
// the status). `permanent`: no attempt can succeed (the stored URL is one the client cannot
// post to), so the message is dead-lettered at once instead of retried for a day. A
// blocked_address is still a retry: its host name may resolve elsewhere later, or the operator
// may fix the allow-list meanwhile. `cancelled` means our own shutdown; the
// caller should not count it against the endpoint. throttle_signal marks 429, 502, 503,
// 504 and timeouts: the endpoint is overloaded, for adaptive throttling.
#pragma once

#include <chrono>
#include <expected>
#include <optional>
#include <string>

#include "http/client.hpp"

namespace tresse::dispatcher {

struct outcome {
  enum class action { delivered, retry, disable_endpoint };

  action next = action::retry;
  // From Retry-After on 429 and 503 only; the caller bounds it by the schedule's maximum.
  std::optional<std::chrono::seconds> retry_after;
  std::string reason;  // short and stable, for logs and metrics labels
  bool throttle_signal = false;
  bool permanent = false;  // with action::retry: dead-letter now, no retry can succeed
};

const char* to_string(outcome::action a);

outcome classify_attempt(const std::expected<http::response, http::failure>& result);

}  // namespace tresse::dispatcher
