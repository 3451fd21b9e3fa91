// A throwaway PKI, made with OpenSSL in the test: a CA in a temp file (what the delivery
// client's ca_file, delivery.ca_file, trusts) and TLS server contexts, client certificates
// whose leaves it signed. Shared by the HTTP client's tests and the end-to-end ones.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <atomic>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ssl.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

namespace tresse::test {

namespace test_pki_detail {
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using x509_ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using bio_ptr = std::unique_ptr<BIO, decltype(&BIO_free)>;

inline pkey_ptr new_key() { return pkey_ptr(EVP_EC_gen("P-256"), EVP_PKEY_free); }

inline void add_ext(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
  if (ext == nullptr) throw std::runtime_error("bad extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A CA certificate when `issuer` is null (self-signed), else a leaf signed by it.
inline x509_ptr new_cert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuer_key,
                         const char* san, const char* eku = "serverAuth") {
  static std::atomic<long> serial{1};
  x509_ptr cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  if (issuer == nullptr) {
    add_ext(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(cert.get(), &ctx, NID_subject_key_identifier, "hash");
  } else {
    add_ext(cert.get(), &ctx, NID_basic_constraints, "CA:FALSE");
    add_ext(cert.get(), &ctx, NID_ext_key_usage, eku);
    add_ext(cert.get(), &ctx, NID_subject_alt_name, san);
  }
  X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256());
  return cert;
}

template <class F>
std::string to_pem(F write) {
  bio_ptr bio(BIO_new(BIO_s_mem()), BIO_free);
  write(bio.get());
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

// A CA in a temp file (for client_options::ca_file) and server contexts whose leaf
// certificates it signed.
class test_pki {
 public:
  test_pki()
      : ca_key_(new_key()),
        ca_(new_cert(ca_key_.get(), "Tresse Test CA", nullptr, nullptr, nullptr)) {
    char dir_template[] = "/tmp/tresse-h5-tls-XXXXXX";
    if (mkdtemp(dir_template) == nullptr) throw std::runtime_error("mkdtemp");
    dir_ = dir_template;
    std::ofstream(ca_file()) << to_pem([&](BIO* b) { PEM_write_bio_X509(b, ca_.get()); });
  }
  ~test_pki() { std::filesystem::remove_all(dir_); }

  std::string ca_file() const { return (dir_ / "ca.pem").string(); }

  // A server context presenting a leaf for `san` ("DNS:localhost,IP:127.0.0.1").
  std::shared_ptr<ssl::context> server_context(const char* san) const {
    auto key = new_key();
    auto leaf = new_cert(key.get(), "tresse test server", ca_.get(), ca_key_.get(), san);
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    const auto cert_pem = to_pem([&](BIO* b) { PEM_write_bio_X509(b, leaf.get()); });
    const auto key_pem = to_pem([&](BIO* b) {
      PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    });
    ctx->use_certificate_chain(asio::buffer(cert_pem));
    ctx->use_private_key(asio::buffer(key_pem), ssl::context::pem);
    return ctx;
  }

  // The same, and it requires a client certificate signed by this CA.
  std::shared_ptr<ssl::context> mtls_server_context(const char* san) const {
    auto ctx = server_context(san);
    ctx->load_verify_file(ca_file());
    ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    return ctx;
  }

  // A client certificate for `cn` signed by this CA, and its key, in PEM.
  std::pair<std::string, std::string> client_credentials(const char* cn) const {
    auto key = new_key();
    auto leaf =
        new_cert(key.get(), cn, ca_.get(), ca_key_.get(), "DNS:client.invalid", "clientAuth");
    return {to_pem([&](BIO* b) { PEM_write_bio_X509(b, leaf.get()); }), to_pem([&](BIO* b) {
              PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
            })};
  }

 private:
  pkey_ptr ca_key_;
  x509_ptr ca_;
  std::filesystem::path dir_;
};

}  // namespace test_pki_detail

using test_pki = test_pki_detail::test_pki;

}  // namespace tresse::test
