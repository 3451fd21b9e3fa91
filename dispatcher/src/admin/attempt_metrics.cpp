#include "admin/attempt_metrics.hpp"

namespace tresse::dispatcher {

std::string_view to_string(attempt_class c) {
  switch (c) {
    case attempt_class::http_1xx:
      return "http_1xx";
    case attempt_class::http_2xx:
      return "http_2xx";
    case attempt_class::http_3xx:
      return "http_3xx";
    case attempt_class::http_4xx:
      return "http_4xx";
    case attempt_class::http_5xx:
      return "http_5xx";
    case attempt_class::timeout:
      return "timeout";
    case attempt_class::connect:
      return "connect";
    case attempt_class::tls:
      return "tls";
    case attempt_class::dns:
      return "dns";
    case attempt_class::blocked:
      return "blocked";
    case attempt_class::other:
      return "other";
  }
  return "other";
}

attempt_class classify(const std::expected<http::response, http::failure>& result) {
  if (result) {
    const unsigned s = result->status;
    if (s < 100 || s > 599) return attempt_class::other;
    return static_cast<attempt_class>(static_cast<std::size_t>(attempt_class::http_1xx) + s / 100 -
                                      1);
  }
  switch (result.error().kind) {
    case http::failure_kind::timeout:
      return attempt_class::timeout;
    case http::failure_kind::connect:
      return attempt_class::connect;
    case http::failure_kind::tls:
      return attempt_class::tls;
    case http::failure_kind::dns:
      return attempt_class::dns;
    case http::failure_kind::blocked_address:
      return attempt_class::blocked;
    case http::failure_kind::invalid_url:
    case http::failure_kind::invalid_request:
    case http::failure_kind::protocol:
    case http::failure_kind::cancelled:
    case http::failure_kind::local:
    case http::failure_kind::proxy:
      return attempt_class::other;
  }
  return attempt_class::other;
}

attempt_metrics::attempt_metrics(metrics& m) {
  for (std::size_t i = 0; i < attempt_class_count; ++i) {
    const auto c = static_cast<attempt_class>(i);
    by_class_[i] = &m.make_counter("tresse_attempts_total",
                                   "Delivery attempts by result class: the response's status "
                                   "class, or why no response came",
                                   {{"class", std::string(to_string(c))}});
  }
}

}  // namespace tresse::dispatcher
