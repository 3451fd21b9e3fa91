#include "delivery/endpoint_headers.hpp"

#include <openssl/crypto.h>

#include "registry/endpoint_options.hpp"

namespace tresse::dispatcher {

const http::header_fields& endpoint_headers::of(const registry::endpoint& ep) {
  if (ready_ && headers_ == ep.headers && auth_ == ep.auth) return rendered_;
  headers_ = ep.headers;
  auth_ = ep.auth;
  rendered_ = http::header_fields{};
  for (const auto& [name, value] : ep.headers) rendered_.add(name, value);
  if (ep.auth.type != registry::endpoint_auth::kind::none) {
    std::string value = registry::authorization_value(ep.auth);
    rendered_.add("Authorization", value);
    OPENSSL_cleanse(value.data(), value.size());
  }
  ready_ = true;
  return rendered_;
}

}  // namespace tresse::dispatcher
