// A TLS client certificate (mTLS): an endpoint's PEM certificate chain and private key, parsed
// once per change and presented on the handshake to that endpoint only (http::target carries
// it; the connection pool keeps such connections apart by fingerprint).
//
//   auto id = http::client_identity::parse(chain_pem, key_pem);   // checks the key matches
//   if (!id) return invalid(id.error().message);
//   target.identity = *id;   // client::connect presents it
//   (*id)->info().expires_at  // for the API and `endpoints health`
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tresse/common/result.hpp"

namespace tresse::dispatcher::http {

struct client_identity_info {
  std::string subject;             // RFC 2253, "CN=crm-client,O=Example"
  std::string fingerprint_sha256;  // of the leaf's DER, lower-case hex
  std::chrono::system_clock::time_point expires_at;  // the leaf's notAfter
};

class client_identity {
 public:
  static constexpr std::size_t max_pem_bytes = 64 * 1024;

  // The first certificate of `chain_pem` is the leaf, the rest its intermediates; `key_pem` an
  // unencrypted private key that matches the leaf. Permanent error naming what is wrong (never
  // quoting the key).
  static result<std::shared_ptr<const client_identity>> parse(std::string_view chain_pem,
                                                              std::string_view key_pem);

  client_identity(const client_identity&) = delete;
  client_identity& operator=(const client_identity&) = delete;
  ~client_identity();

  const client_identity_info& info() const { return info_; }
  // Presents it on `ssl` (before the handshake). False if OpenSSL refused it.
  bool apply(SSL* ssl) const;

 private:
  client_identity() = default;
  X509* leaf_ = nullptr;
  std::vector<X509*> chain_;
  EVP_PKEY* key_ = nullptr;
  client_identity_info info_;
};

}  // namespace tresse::dispatcher::http
