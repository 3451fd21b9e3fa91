#include "tresse/receiver/errc.hpp"

#include <string>

namespace tresse::receiver {
namespace {

class category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tresse.receiver"; }

  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::missing_header:
        return "a required webhook header is missing or empty";
      case errc::invalid_timestamp:
        return "webhook-timestamp is not an integer number of unix seconds";
      case errc::timestamp_too_old:
        return "webhook-timestamp is older than the tolerance allows";
      case errc::timestamp_too_new:
        return "webhook-timestamp is further in the future than the tolerance allows";
      case errc::no_matching_signature:
        return "no signature matches a configured key";
      case errc::invalid_secret:
        return "invalid or unusable secret";
      case errc::replayed:
        return "webhook-id was already accepted";
    }
    return "unknown tresse.receiver error";
  }
};

}  // namespace

const std::error_category& category() noexcept {
  static const category_impl instance;
  return instance;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), category()}; }

std::string_view to_string(errc e) noexcept {
  switch (e) {
    case errc::missing_header:
      return "missing_header";
    case errc::invalid_timestamp:
      return "invalid_timestamp";
    case errc::timestamp_too_old:
      return "timestamp_too_old";
    case errc::timestamp_too_new:
      return "timestamp_too_new";
    case errc::no_matching_signature:
      return "no_matching_signature";
    case errc::invalid_secret:
      return "invalid_secret";
    case errc::replayed:
      return "replayed";
  }
  return "unknown";
}

}  // namespace tresse::receiver
