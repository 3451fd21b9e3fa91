#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "test_vectors.hpp"
#include "tresse/receiver.h"
#include "tresse/receiver/key.hpp"

// Defined in c_api_compile.c, compiled as C.
extern "C" int tresse_c_sign_and_verify(const char* secret, int64_t now);

namespace tresse::receiver {
namespace {

using namespace test;

const std::string kIdZ(kId);
const std::string kTsZ(kTimestampText);
const std::string kSigZ(kSignature);

struct verifier_deleter {
  void operator()(tresse_verifier* v) const { tresse_verifier_free(v); }
};
using verifier_ptr = std::unique_ptr<tresse_verifier, verifier_deleter>;

verifier_ptr make(std::vector<std::string_view> secrets, int64_t tolerance = 0) {
  std::vector<std::string> owned(secrets.begin(), secrets.end());
  std::vector<const char*> ptrs;
  for (const std::string& s : owned) ptrs.push_back(s.c_str());
  return verifier_ptr(tresse_verifier_new(ptrs.data(), ptrs.size(), tolerance));
}

int verify(const tresse_verifier* v, const std::string& sig, int64_t now = kTimestamp,
           std::string_view body = kBody, const char* id = kIdZ.c_str(),
           const char* ts = kTsZ.c_str()) {
  char message[256];
  return tresse_verifier_verify(v, id, ts, sig.c_str(), body.data(), body.size(), now, message,
                                sizeof message);
}

TEST(CApiTest, WorksFromC) {
  EXPECT_EQ(tresse_c_sign_and_verify(std::string(kSecret).c_str(), 1776594720), TRESSE_OK);
  EXPECT_EQ(tresse_c_sign_and_verify(std::string(kEdSecret).c_str(), 1776594720), TRESSE_OK);
  EXPECT_EQ(tresse_c_sign_and_verify("whsec_%%%", 1776594720), TRESSE_INVALID_SECRET);
}

TEST(CApiTest, VerifiesStandardWebhooksVector) {
  const verifier_ptr v = make({kSecret});
  ASSERT_NE(v, nullptr);
  char message[64] = "stale";
  EXPECT_EQ(tresse_verifier_verify(v.get(), kIdZ.c_str(), kTsZ.c_str(), kSigZ.c_str(), kBody.data(),
                                   kBody.size(), kTimestamp, message, sizeof message),
            TRESSE_OK);
  EXPECT_STREQ(message, "");
}

TEST(CApiTest, ReturnsStableCodesWithMessages) {
  const verifier_ptr v = make({kSecret});
  char message[256];
  EXPECT_EQ(tresse_verifier_verify(v.get(), nullptr, kTsZ.c_str(), kSigZ.c_str(), kBody.data(),
                                   kBody.size(), kTimestamp, message, sizeof message),
            TRESSE_MISSING_HEADER);
  EXPECT_NE(std::strstr(message, "webhook-id"), nullptr) << message;
  EXPECT_EQ(tresse_verifier_verify(v.get(), kIdZ.c_str(), "", kSigZ.c_str(), kBody.data(),
                                   kBody.size(), kTimestamp, message, sizeof message),
            TRESSE_MISSING_HEADER);
  EXPECT_NE(std::strstr(message, "webhook-timestamp"), nullptr) << message;
  EXPECT_EQ(verify(v.get(), kSigZ, kTimestamp, kBody, kIdZ.c_str(), "soon"),
            TRESSE_INVALID_TIMESTAMP);
  EXPECT_EQ(verify(v.get(), kSigZ, kTimestamp + 301), TRESSE_TIMESTAMP_TOO_OLD);
  EXPECT_EQ(verify(v.get(), kSigZ, kTimestamp - 301), TRESSE_TIMESTAMP_TOO_NEW);
  EXPECT_EQ(verify(v.get(), kSigZ, kTimestamp + 300), TRESSE_OK);
  EXPECT_EQ(verify(v.get(), kSigZ, kTimestamp, "tampered"), TRESSE_NO_MATCHING_SIGNATURE);
  EXPECT_EQ(verify(v.get(), "v1,garbage"), TRESSE_NO_MATCHING_SIGNATURE);
}

TEST(CApiTest, ZeroNowMeansSystemClock) {
  const verifier_ptr v = make({kSecret});
  EXPECT_EQ(verify(v.get(), kSigZ, 0), TRESSE_TIMESTAMP_TOO_OLD);  // the vector is from 2021
}

TEST(CApiTest, HonoursTolerance) {
  const verifier_ptr v = make({kSecret}, 10);
  EXPECT_EQ(verify(v.get(), kSigZ, kTimestamp + 10), TRESSE_OK);
  EXPECT_EQ(verify(v.get(), kSigZ, kTimestamp + 11), TRESSE_TIMESTAMP_TOO_OLD);
}

TEST(CApiTest, SupportsRotationAndEd25519) {
  const verifier_ptr v = make({kOtherSecret, kSecret, kEdPublic});
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(verify(v.get(), kSigZ), TRESSE_OK);
  EXPECT_EQ(verify(v.get(), std::string(kEdSignature)), TRESSE_OK);
}

TEST(CApiTest, NewRejectsBadArguments) {
  EXPECT_EQ(make({kSecret, "whsec_!"}), nullptr);
  EXPECT_EQ(make({""}), nullptr);
  EXPECT_EQ(make({kSecret}, -1), nullptr);
  EXPECT_EQ(tresse_verifier_new(nullptr, 1, 0), nullptr);
  const char* with_null[] = {nullptr};
  EXPECT_EQ(tresse_verifier_new(with_null, 1, 0), nullptr);
  tresse_verifier_free(nullptr);  // a no-op
}

TEST(CApiTest, VerifierWithoutSecretsReportsInvalidSecret) {
  const verifier_ptr v(tresse_verifier_new(nullptr, 0, 0));
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(verify(v.get(), kSigZ), TRESSE_INVALID_SECRET);
}

TEST(CApiTest, RejectsNullArguments) {
  const verifier_ptr v = make({kSecret});
  char message[64];
  EXPECT_EQ(tresse_verifier_verify(nullptr, kIdZ.c_str(), kTsZ.c_str(), kSigZ.c_str(), kBody.data(),
                                   kBody.size(), kTimestamp, message, sizeof message),
            TRESSE_INVALID_ARGUMENT);
  EXPECT_EQ(tresse_verifier_verify(v.get(), kIdZ.c_str(), kTsZ.c_str(), kSigZ.c_str(), nullptr, 5,
                                   kTimestamp, nullptr, 0),
            TRESSE_INVALID_ARGUMENT);
  EXPECT_EQ(tresse_verifier_enable_replay_guard(nullptr, 10), TRESSE_INVALID_ARGUMENT);
}

TEST(CApiTest, NullBodyIsEmptyBody) {
  const verifier_ptr v = make({kSecret});
  char sig[TRESSE_SIGNATURE_MAX];
  ASSERT_EQ(tresse_sign(std::string(kSecret).c_str(), kIdZ.c_str(), kTimestamp, nullptr, 0, sig,
                        sizeof sig),
            TRESSE_OK);
  EXPECT_EQ(tresse_verifier_verify(v.get(), kIdZ.c_str(), kTsZ.c_str(), sig, nullptr, 0, kTimestamp,
                                   nullptr, 0),
            TRESSE_OK);
}

TEST(CApiTest, TruncatesMessageToTheBuffer) {
  const verifier_ptr v = make({kSecret});
  char message[8];
  std::memset(message, 'x', sizeof message);
  EXPECT_EQ(tresse_verifier_verify(v.get(), "", kTsZ.c_str(), kSigZ.c_str(), kBody.data(),
                                   kBody.size(), kTimestamp, message, sizeof message),
            TRESSE_MISSING_HEADER);
  EXPECT_EQ(std::strlen(message), sizeof message - 1);
  EXPECT_EQ(tresse_verifier_verify(v.get(), "", kTsZ.c_str(), kSigZ.c_str(), kBody.data(),
                                   kBody.size(), kTimestamp, nullptr, 0),
            TRESSE_MISSING_HEADER);
}

TEST(CApiTest, ReplayGuardRejectsSecondDelivery) {
  const verifier_ptr v = make({kSecret}, 60);
  EXPECT_EQ(tresse_verifier_enable_replay_guard(v.get(), 0), TRESSE_OK);
  EXPECT_EQ(verify(v.get(), kSigZ), TRESSE_OK);
  char message[256];
  EXPECT_EQ(tresse_verifier_verify(v.get(), kIdZ.c_str(), kTsZ.c_str(), kSigZ.c_str(), kBody.data(),
                                   kBody.size(), kTimestamp, message, sizeof message),
            TRESSE_REPLAYED);
  EXPECT_NE(std::strstr(message, "webhook-id"), nullptr) << message;
  tresse_verifier_forget(v.get(), kIdZ.c_str());
  EXPECT_EQ(verify(v.get(), kSigZ), TRESSE_OK);
  // The tolerance survives enabling the guard.
  EXPECT_EQ(verify(v.get(), kSigZ, kTimestamp + 61), TRESSE_TIMESTAMP_TOO_OLD);
}

TEST(CApiTest, WithoutReplayGuardRedeliveryIsAccepted) {
  const verifier_ptr v = make({kSecret});
  EXPECT_EQ(verify(v.get(), kSigZ), TRESSE_OK);
  EXPECT_EQ(verify(v.get(), kSigZ), TRESSE_OK);
  tresse_verifier_forget(v.get(), kIdZ.c_str());  // a no-op
}

TEST(CApiTest, SignsIntoCallerBuffer) {
  char out[TRESSE_SIGNATURE_MAX];
  EXPECT_EQ(tresse_sign(std::string(kSecret).c_str(), kIdZ.c_str(), kTimestamp, kBody.data(),
                        kBody.size(), out, sizeof out),
            TRESSE_OK);
  EXPECT_EQ(std::string(out), kSignature);
  EXPECT_EQ(tresse_sign(std::string(kEdSecret).c_str(), kIdZ.c_str(), kTimestamp, kBody.data(),
                        kBody.size(), out, sizeof out),
            TRESSE_OK);
  EXPECT_EQ(std::string(out), kEdSignature);
}

TEST(CApiTest, SignReportsErrors) {
  char out[TRESSE_SIGNATURE_MAX];
  const std::string secret(kSecret);
  EXPECT_EQ(tresse_sign(secret.c_str(), "id", 1, "b", 1, out, kSignature.size()),
            TRESSE_BUFFER_TOO_SMALL);
  EXPECT_EQ(tresse_sign(secret.c_str(), "id", 1, "b", 1, out, kSignature.size() + 1), TRESSE_OK);
  EXPECT_EQ(tresse_sign(std::string(kEdPublic).c_str(), "id", 1, "b", 1, out, sizeof out),
            TRESSE_INVALID_SECRET);
  EXPECT_EQ(tresse_sign("nope!", "id", 1, "b", 1, out, sizeof out), TRESSE_INVALID_SECRET);
  EXPECT_EQ(tresse_sign(nullptr, "id", 1, "b", 1, out, sizeof out), TRESSE_INVALID_ARGUMENT);
  EXPECT_EQ(tresse_sign(secret.c_str(), nullptr, 1, "b", 1, out, sizeof out),
            TRESSE_INVALID_ARGUMENT);
  EXPECT_EQ(tresse_sign(secret.c_str(), "id", 1, nullptr, 1, out, sizeof out),
            TRESSE_INVALID_ARGUMENT);
  EXPECT_EQ(tresse_sign(secret.c_str(), "id", 1, "b", 1, nullptr, 0), TRESSE_INVALID_ARGUMENT);
}

TEST(CApiTest, NamesEveryCode) {
  EXPECT_STREQ(tresse_error_name(TRESSE_OK), "ok");
  EXPECT_STREQ(tresse_error_name(TRESSE_MISSING_HEADER), "missing_header");
  EXPECT_STREQ(tresse_error_name(TRESSE_INVALID_TIMESTAMP), "invalid_timestamp");
  EXPECT_STREQ(tresse_error_name(TRESSE_TIMESTAMP_TOO_OLD), "timestamp_too_old");
  EXPECT_STREQ(tresse_error_name(TRESSE_TIMESTAMP_TOO_NEW), "timestamp_too_new");
  EXPECT_STREQ(tresse_error_name(TRESSE_NO_MATCHING_SIGNATURE), "no_matching_signature");
  EXPECT_STREQ(tresse_error_name(TRESSE_INVALID_SECRET), "invalid_secret");
  EXPECT_STREQ(tresse_error_name(TRESSE_REPLAYED), "replayed");
  EXPECT_STREQ(tresse_error_name(TRESSE_INVALID_ARGUMENT), "invalid_argument");
  EXPECT_STREQ(tresse_error_name(TRESSE_BUFFER_TOO_SMALL), "buffer_too_small");
  EXPECT_STREQ(tresse_error_name(TRESSE_OUT_OF_MEMORY), "out_of_memory");
  EXPECT_STREQ(tresse_error_name(8), "unknown");
  EXPECT_STREQ(tresse_error_name(-1), "unknown");
}

}  // namespace
}  // namespace tresse::receiver
