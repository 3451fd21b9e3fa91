// Delivery attempts in /metrics, by what came of them:
//
//   tresse_attempts_total{class="http_2xx"}   a response, by status class (http_1xx … http_5xx)
//   tresse_attempts_total{class="timeout"}    no response: by the http client's failure kind,
//   tresse_attempts_total{class="connect"}    connect, tls, dns, blocked (the SSRF guard) and
//   …                                         other (protocol, invalid_url, invalid_request)
//
// One counter per class, registered up front (every class renders, 0 included), so an alert on
// rate(tresse_attempts_total{class="tls"}[5m]) has a series from the start. Counting is one
// relaxed atomic increment, like the other delivery counters: no lock on the delivery path.
//
//   attempt_metrics attempts(stats);
//   auto r = co_await client.post(req);
//   attempts.count(r);  // only for real attempts: not for `cancelled` or `local` failures
#pragma once

#include <array>
#include <cstddef>
#include <expected>
#include <string_view>

#include "admin/metrics.hpp"
#include "http/client.hpp"

namespace tresse::dispatcher {

enum class attempt_class {
  http_1xx,
  http_2xx,
  http_3xx,
  http_4xx,
  http_5xx,
  timeout,
  connect,
  tls,
  dns,
  blocked,
  other,
};
inline constexpr std::size_t attempt_class_count =
    static_cast<std::size_t>(attempt_class::other) + 1;

// The label value: "http_4xx", "timeout", "blocked", ...
std::string_view to_string(attempt_class c);

// The class of one attempt's result: a response by its status's hundreds (a status outside
// 100-599 is `other`), a failure by its kind (blocked_address is `blocked`; protocol,
// invalid_url, invalid_request, cancelled and local are `other`).
attempt_class classify(const std::expected<http::response, http::failure>& result);

class attempt_metrics {
 public:
  // Registers tresse_attempts_total with one series per class on `m`, which must outlive this.
  explicit attempt_metrics(metrics& m);

  void count(attempt_class c) { by_class_[static_cast<std::size_t>(c)]->inc(); }
  void count(const std::expected<http::response, http::failure>& result) {
    count(classify(result));
  }
  std::uint64_t value(attempt_class c) const {
    return by_class_[static_cast<std::size_t>(c)]->value();
  }

 private:
  std::array<counter*, attempt_class_count> by_class_{};
};

}  // namespace tresse::dispatcher
