#include "tresse/receiver/key.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "test_vectors.hpp"
#include "tresse/receiver/errc.hpp"

namespace tresse::receiver {
namespace {

using namespace test;

key parse_ok(std::string_view text) {
  std::error_code ec;
  key k = key::parse(text, ec);
  EXPECT_FALSE(ec) << text;
  EXPECT_FALSE(k.empty()) << text;
  return k;
}

TEST(KeyTest, ParsesHmacSecretWithAndWithoutPrefix) {
  for (const std::string_view text : {kSecret, kSecret.substr(6), kOtherSecret}) {
    const key k = parse_ok(text);
    EXPECT_EQ(k.kind(), key_kind::hmac);
    EXPECT_TRUE(k.can_sign());
    EXPECT_EQ(k.public_key(), "");
  }
}

TEST(KeyTest, ParsesEd25519SecretKey) {
  const key k = parse_ok(kEdSecret);
  EXPECT_EQ(k.kind(), key_kind::ed25519_secret);
  EXPECT_TRUE(k.can_sign());
  EXPECT_EQ(k.public_key(), kEdPublic);  // RFC 8032's public key for that seed
}

TEST(KeyTest, ParsesEd25519PublicKey) {
  const key k = parse_ok(kEdPublic);
  EXPECT_EQ(k.kind(), key_kind::ed25519_public);
  EXPECT_FALSE(k.can_sign());
  EXPECT_EQ(k.public_key(), kEdPublic);
}

TEST(KeyTest, RejectsInvalidSecrets) {
  const std::string huge = "whsec_" + std::string(4000, 'A');
  // The seed of kEdSecret followed by someone else's public key.
  std::string mismatched(kEdSecret);
  mismatched[60] = mismatched[60] == 'A' ? 'B' : 'A';
  const std::string invalid[] = {
      "",
      "whsec_",
      "whsk_",
      "whpk_",
      "whsec_$$$$",
      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw ",
      " whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      "whsec_MfKQ9r8GKYqrTwjU PD8ILPZIo2LaLaSw",
      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaL",      // 29 characters: not base64
      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw=",  // bad padding
      "whsec_MfKQ9r8G-YqrTwjUPD8ILPZIo2LaLaSw",   // URL-safe alphabet
      "whsec_\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
      huge,
      "whsk_" + std::string(kEdPublic.substr(5)),  // 32 bytes where 64 are needed
      "whpk_" + std::string(kEdSecret.substr(5)),  // 64 bytes where 32 are needed
      mismatched,
  };
  for (const std::string& text : invalid) {
    std::error_code ec;
    const key k = key::parse(text, ec);
    EXPECT_EQ(ec, errc::invalid_secret) << text;
    EXPECT_TRUE(k.empty()) << text;
  }
}

TEST(KeyTest, ParseClearsAPreviousError) {
  std::error_code ec = errc::replayed;
  parse_ok(kSecret);
  key::parse(kSecret, ec);
  EXPECT_FALSE(ec);
}

TEST(KeyTest, EmptyKeyCannotSign) {
  const key k;
  EXPECT_TRUE(k.empty());
  EXPECT_FALSE(k.can_sign());
  EXPECT_EQ(k.public_key(), "");
}

TEST(KeyTest, CopiesShareState) {
  const key a = parse_ok(kSecret);
  const key b = a;  // NOLINT(performance-unnecessary-copy-initialization)
  EXPECT_EQ(a.state(), b.state());
}

TEST(KeyTest, GeneratesHmacSecrets) {
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    const std::string secret = generate_hmac_secret();
    ASSERT_EQ(secret.rfind("whsec_", 0), 0U) << secret;
    EXPECT_EQ(secret.size(), 6 + 44U) << secret;  // 32 bytes
    parse_ok(secret);
    seen.insert(secret);
  }
  EXPECT_EQ(seen.size(), 20U);
}

TEST(KeyTest, ClampsGeneratedSecretSize) {
  EXPECT_EQ(generate_hmac_secret(1).size(), 6 + 32U);    // 24 bytes
  EXPECT_EQ(generate_hmac_secret(24).size(), 6 + 32U);   // 24 bytes
  EXPECT_EQ(generate_hmac_secret(64).size(), 6 + 88U);   // 64 bytes
  EXPECT_EQ(generate_hmac_secret(500).size(), 6 + 88U);  // 64 bytes
}

TEST(KeyTest, GeneratesEd25519KeyPairs) {
  const ed25519_keypair a = generate_ed25519_keypair();
  const ed25519_keypair b = generate_ed25519_keypair();
  EXPECT_NE(a.secret_key, b.secret_key);
  const key secret = parse_ok(a.secret_key);
  const key pub = parse_ok(a.public_key);
  EXPECT_EQ(secret.kind(), key_kind::ed25519_secret);
  EXPECT_EQ(pub.kind(), key_kind::ed25519_public);
  EXPECT_EQ(secret.public_key(), a.public_key);
}

}  // namespace
}  // namespace tresse::receiver
