#include "http/client_identity.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <ctime>

namespace tresse::dispatcher::http {
namespace {

struct bio_free {
  void operator()(BIO* b) const { BIO_free(b); }
};
using bio_ptr = std::unique_ptr<BIO, bio_free>;

bio_ptr memory_bio(std::string_view text) {
  return bio_ptr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

std::unexpected<error> bad(std::string_view why) {
  ERR_clear_error();  // OpenSSL's queue would otherwise leak into the next caller's error
  return fail(error_kind::permanent, "field 'tls_client_certificate' " + std::string(why));
}

std::string subject_of(X509* cert) {
  bio_ptr out(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(out.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long n = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<std::size_t>(n > 0 ? n : 0));
}

std::string fingerprint_of(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest(cert, EVP_sha256(), md, &n);
  std::string hex;
  hex.reserve(2 * n);
  for (unsigned int i = 0; i < n; ++i) {
    char two[3];
    std::snprintf(two, sizeof two, "%02x", md[i]);
    hex += two;
  }
  return hex;
}

std::chrono::system_clock::time_point not_after(X509* cert) {
  std::tm tm{};
  ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm);
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

}  // namespace

result<std::shared_ptr<const client_identity>> client_identity::parse(std::string_view chain_pem,
                                                                      std::string_view key_pem) {
  if (chain_pem.size() > max_pem_bytes || key_pem.size() > max_pem_bytes) {
    return bad("is larger than 64 KiB");
  }
  std::shared_ptr<client_identity> id(new client_identity());
  auto certs = memory_bio(chain_pem);
  id->leaf_ = PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr);
  if (id->leaf_ == nullptr) return bad("needs a 'certificate' in PEM (BEGIN CERTIFICATE)");
  while (X509* next = PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr)) {
    id->chain_.push_back(next);
    if (id->chain_.size() > 10) return bad("has more than 10 intermediate certificates");
  }
  ERR_clear_error();  // the end of the chain reads as an error
  auto key = memory_bio(key_pem);
  // No password callback: an encrypted key fails here instead of prompting on the terminal.
  id->key_ = PEM_read_bio_PrivateKey(key.get(), nullptr,
                                     [](char*, int, int, void*) { return 0; }, nullptr);
  if (id->key_ == nullptr) return bad("needs an unencrypted 'private_key' in PEM");
  if (X509_check_private_key(id->leaf_, id->key_) != 1) {
    return bad("has a 'private_key' that does not match its certificate");
  }
  id->info_ = {subject_of(id->leaf_), fingerprint_of(id->leaf_), not_after(id->leaf_)};
  return std::shared_ptr<const client_identity>(std::move(id));
}

client_identity::~client_identity() {
  X509_free(leaf_);
  for (X509* c : chain_) X509_free(c);
  EVP_PKEY_free(key_);
}

bool client_identity::apply(SSL* ssl) const {
  if (SSL_use_certificate(ssl, leaf_) != 1 || SSL_use_PrivateKey(ssl, key_) != 1) return false;
  for (X509* c : chain_) {
    if (SSL_add1_chain_cert(ssl, c) != 1) return false;
  }
  return true;
}

}  // namespace tresse::dispatcher::http
