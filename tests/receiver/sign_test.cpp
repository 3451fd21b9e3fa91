#include "tresse/receiver/sign.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>

#include "test_vectors.hpp"
#include "tresse/receiver/errc.hpp"

namespace tresse::receiver {
namespace {

using namespace test;

key parse(std::string_view text) {
  std::error_code ec;
  key k = key::parse(text, ec);
  EXPECT_FALSE(ec) << text;
  return k;
}

TEST(SignTest, MatchesStandardWebhooksVector) {
  std::error_code ec = errc::replayed;
  EXPECT_EQ(sign(parse(kSecret), kId, kTimestamp, kBody, ec), kSignature);
  EXPECT_FALSE(ec);
}

TEST(SignTest, AcceptsSecretWithoutPrefix) {
  std::error_code ec;
  EXPECT_EQ(sign(parse(kSecret.substr(6)), kId, kTimestamp, kBody, ec), kSignature);
}

TEST(SignTest, RepeatedSigningGivesSameSignature) {
  // The pooled HMAC contexts must restart cleanly on every use.
  const key k = parse(kSecret);
  std::error_code ec;
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(sign(k, kId, kTimestamp, kBody, ec), kSignature) << i;
    ASSERT_NE(sign(k, kId, kTimestamp + 1, kBody, ec), kSignature) << i;
  }
}

// v1 computed independently: OpenSSL's one-shot HMAC over the joined content.
std::string reference_v1(std::string_view secret_base64, const std::string& content) {
  unsigned char secret[64];
  const int size =
      EVP_DecodeBlock(secret, reinterpret_cast<const unsigned char*>(secret_base64.data()),
                      static_cast<int>(secret_base64.size()));
  unsigned char mac[32];
  unsigned int mac_size = 0;
  HMAC(EVP_sha256(), secret, size, reinterpret_cast<const unsigned char*>(content.data()),
       content.size(), mac, &mac_size);
  unsigned char text[64];
  const int n = EVP_EncodeBlock(text, mac, static_cast<int>(mac_size));
  return "v1," + std::string(reinterpret_cast<char*>(text), n);
}

TEST(SignTest, MatchesReferenceHmacForShortAndLongIds) {
  // Ids beyond the prefix buffer on the stack take the streamed path.
  const key k = parse(kSecret);
  const std::string_view secret = kSecret.substr(6);  // 24 bytes: no padding quirks
  for (const std::size_t size : {1, 28, 200, 253, 254, 255, 256, 1000}) {
    const std::string id(size, 'i');
    std::error_code ec;
    EXPECT_EQ(
        sign(k, id, kTimestamp, kBody, ec),
        reference_v1(secret, id + "." + std::string(kTimestampText) + "." + std::string(kBody)))
        << size;
  }
}

TEST(SignTest, Ed25519MatchesIndependentSignature) {
  std::error_code ec;
  EXPECT_EQ(sign(parse(kEdSecret), kId, kTimestamp, kBody, ec), kEdSignature);
  EXPECT_FALSE(ec);
}

TEST(SignTest, PublicKeyCannotSign) {
  std::error_code ec;
  EXPECT_EQ(sign(parse(kEdPublic), kId, kTimestamp, kBody, ec), "");
  EXPECT_EQ(ec, errc::invalid_secret);
}

TEST(SignTest, EmptyKeyCannotSign) {
  std::error_code ec;
  EXPECT_EQ(sign(key(), kId, kTimestamp, kBody, ec), "");
  EXPECT_EQ(ec, errc::invalid_secret);
}

TEST(SignTest, SignAllJoinsEntriesWithSpaces) {
  std::error_code ec;
  const std::string header =
      sign_all({parse(kSecret), parse(kEdSecret), parse(kOtherSecret)}, kId, kTimestamp, kBody, ec);
  EXPECT_FALSE(ec);
  EXPECT_EQ(header, std::string(kSignature) + " " + std::string(kEdSignature) + " " +
                        sign(parse(kOtherSecret), kId, kTimestamp, kBody, ec));
}

TEST(SignTest, SignAllFailsWhenAnyKeyCannotSign) {
  std::error_code ec;
  EXPECT_EQ(sign_all({parse(kSecret), parse(kEdPublic)}, kId, kTimestamp, kBody, ec), "");
  EXPECT_EQ(ec, errc::invalid_secret);
  EXPECT_EQ(sign_all({}, kId, kTimestamp, kBody, ec), "");
  EXPECT_EQ(ec, errc::invalid_secret);
}

}  // namespace
}  // namespace tresse::receiver
