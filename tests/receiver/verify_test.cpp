#include "tresse/receiver/verify.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "test_vectors.hpp"
#include "tresse/receiver/sign.hpp"

namespace tresse::receiver {
namespace {

using namespace test;
using std::chrono::seconds;
using std::chrono::system_clock;

key parse(std::string_view text) {
  std::error_code ec;
  key k = key::parse(text, ec);
  EXPECT_FALSE(ec) << text;
  return k;
}

system_clock::time_point at(std::int64_t unix_seconds) {
  return system_clock::time_point(seconds(unix_seconds));
}

// A verifier whose clock reads `now`.
verifier make(std::vector<std::string_view> secrets, std::int64_t now = kTimestamp,
              seconds tolerance = seconds(300), std::shared_ptr<replay_guard> replay = nullptr) {
  std::vector<key> keys;
  for (const std::string_view s : secrets) keys.push_back(parse(s));
  verifier_options options;
  options.tolerance = tolerance;
  options.clock = [now] { return at(now); };
  options.replay = std::move(replay);
  return verifier(std::move(keys), std::move(options));
}

std::string sign_with(std::string_view secret, std::string_view id, std::int64_t ts,
                      std::string_view body) {
  std::error_code ec;
  std::string sig = sign(parse(secret), id, ts, body, ec);
  EXPECT_FALSE(ec);
  return sig;
}

// Checks the vector with `signature` as the webhook-signature header.
verification check(const verifier& v, std::string_view signature) {
  return v.verify(kId, kTimestampText, signature, kBody);
}

// --- the happy path -------------------------------------------------------------------------

TEST(VerifyTest, AcceptsStandardWebhooksVector) {
  const verification r = check(make({kSecret}), kSignature);
  EXPECT_TRUE(r) << r.message;
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.message, "");
  EXPECT_EQ(r.id, kId);
  EXPECT_EQ(r.timestamp, kTimestamp);
}

TEST(VerifyTest, AcceptsSecretWithoutPrefix) {
  EXPECT_TRUE(check(make({kSecret.substr(6)}), kSignature));
}

TEST(VerifyTest, DefaultToleranceIsFiveMinutes) {
  EXPECT_EQ(verifier_options().tolerance, seconds(300));
}

TEST(VerifyTest, UsesSystemClockWhenNoneIsInjected) {
  const verifier v({parse(kSecret)});
  const std::int64_t now =
      std::chrono::duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
  const std::string ts = std::to_string(now);
  EXPECT_TRUE(v.verify(kId, ts, sign_with(kSecret, kId, now, kBody), kBody));
  EXPECT_EQ(v.verify(kId, kTimestampText, kSignature, kBody).code(), errc::timestamp_too_old);
}

TEST(VerifyTest, ExplicitTimeOverridesTheClock) {
  const verifier v = make({kSecret}, kTimestamp + 100000);
  EXPECT_TRUE(v.verify(kId, kTimestampText, kSignature, kBody, at(kTimestamp)));
}

// --- headers ----------------------------------------------------------------------------------

TEST(VerifyTest, RejectsMissingOrEmptyHeaders) {
  const verifier v = make({kSecret});
  struct missing {
    std::string_view id, ts, sig, named;
  };
  for (const missing& m :
       {missing{"", kTimestampText, kSignature, "webhook-id"},
        missing{kId, "", kSignature, "webhook-timestamp"},
        missing{kId, kTimestampText, "", "webhook-signature"}, missing{"", "", "", "webhook-id"}}) {
    const verification r = v.verify(m.id, m.ts, m.sig, kBody);
    EXPECT_EQ(r.code(), errc::missing_header) << m.named;
    EXPECT_NE(r.message.find(m.named), std::string::npos) << r.message;
    EXPECT_FALSE(r);
  }
}

TEST(VerifyTest, FindsHeadersInAnyCase) {
  const verifier v = make({kSecret});
  const std::map<std::string, std::string> map = {
      {"Webhook-Id", std::string(kId)},
      {"WEBHOOK-TIMESTAMP", std::string(kTimestampText)},
      {"webhook-Signature", std::string(kSignature)},
      {"content-type", "application/json"}};
  EXPECT_TRUE(v.verify(map, kBody));

  const std::vector<std::pair<std::string, std::string>> pairs(map.begin(), map.end());
  EXPECT_TRUE(v.verify(pairs, kBody));
}

TEST(VerifyTest, MapWithoutHeadersIsMissingHeader) {
  const verifier v = make({kSecret});
  const std::map<std::string, std::string> map = {{"webhook-id", std::string(kId)},
                                                  {"webhook-timestamp-x", "1"}};
  const verification r = v.verify(map, kBody);
  EXPECT_EQ(r.code(), errc::missing_header);
  EXPECT_NE(r.message.find("webhook-timestamp"), std::string::npos);
}

TEST(VerifyTest, AsksTheLookupForLowerCaseNames) {
  const verifier v = make({kSecret});
  std::vector<std::string> asked;
  const verification r = v.verify(
      [&](std::string_view name) -> std::optional<std::string_view> {
        asked.emplace_back(name);
        if (name == "webhook-id") return kId;
        if (name == "webhook-timestamp") return kTimestampText;
        if (name == "webhook-signature") return kSignature;
        return std::nullopt;
      },
      kBody);
  EXPECT_TRUE(r) << r.message;
  EXPECT_EQ(asked,
            (std::vector<std::string>{"webhook-id", "webhook-timestamp", "webhook-signature"}));
}

TEST(VerifyTest, LookupReturningNothingIsMissingHeader) {
  const verifier v = make({kSecret});
  EXPECT_EQ(
      v.verify([](std::string_view) { return std::optional<std::string_view>(); }, kBody).code(),
      errc::missing_header);
  EXPECT_EQ(v.verify(header_lookup(), kBody).code(), errc::missing_header);
}

// --- timestamp --------------------------------------------------------------------------------

TEST(VerifyTest, RejectsTimestampsThatAreNotUnixSeconds) {
  const verifier v = make({kSecret});
  for (const std::string_view ts :
       {"abc", "-1614265330", "+1614265330", " 1614265330", "1614265330 ", "1614265330.0", "1.6e9",
        "0x10", "99999999999999999999", "9223372036854775808", "16142653３0", "1614265330\n"}) {
    const verification r = v.verify(kId, ts, kSignature, kBody);
    EXPECT_EQ(r.code(), errc::invalid_timestamp) << ts;
    EXPECT_NE(r.message.find("webhook-timestamp"), std::string::npos);
  }
}

TEST(VerifyTest, AcceptsExactlyAtTheToleranceEdges) {
  EXPECT_TRUE(check(make({kSecret}, kTimestamp + 300), kSignature));
  EXPECT_TRUE(check(make({kSecret}, kTimestamp - 300), kSignature));
}

TEST(VerifyTest, RejectsOneSecondBeyondTheTolerance) {
  const verification old = check(make({kSecret}, kTimestamp + 301), kSignature);
  EXPECT_EQ(old.code(), errc::timestamp_too_old);
  EXPECT_NE(old.message.find("webhook-timestamp"), std::string::npos);
  EXPECT_EQ(old.timestamp, kTimestamp);
  const verification future = check(make({kSecret}, kTimestamp - 301), kSignature);
  EXPECT_EQ(future.code(), errc::timestamp_too_new);
  EXPECT_NE(future.message.find("webhook-timestamp"), std::string::npos);
}

TEST(VerifyTest, ComparesWholeSecondsOfTheClock) {
  verifier_options options;
  options.clock = [] { return at(kTimestamp + 300) + std::chrono::milliseconds(999); };
  EXPECT_TRUE(check(verifier({parse(kSecret)}, options), kSignature));
  options.clock = [] { return at(kTimestamp - 300) - std::chrono::milliseconds(1); };
  EXPECT_EQ(check(verifier({parse(kSecret)}, options), kSignature).code(), errc::timestamp_too_new);
}

TEST(VerifyTest, ToleranceIsConfigurable) {
  EXPECT_TRUE(check(make({kSecret}, kTimestamp + 10, seconds(10)), kSignature));
  EXPECT_EQ(check(make({kSecret}, kTimestamp + 11, seconds(10)), kSignature).code(),
            errc::timestamp_too_old);
  EXPECT_EQ(check(make({kSecret}, kTimestamp - 11, seconds(10)), kSignature).code(),
            errc::timestamp_too_new);
  EXPECT_TRUE(check(make({kSecret}, kTimestamp, seconds(0)), kSignature));
  EXPECT_EQ(check(make({kSecret}, kTimestamp + 1, seconds(0)), kSignature).code(),
            errc::timestamp_too_old);
}

TEST(VerifyTest, HugeToleranceDoesNotOverflow) {
  const verifier v = make({kSecret}, kTimestamp, seconds::max());
  EXPECT_TRUE(check(v, kSignature));
  EXPECT_EQ(v.verify(kId, "9223372036854775807", kSignature, kBody).code(),
            errc::timestamp_too_new);
  EXPECT_EQ(v.verify(kId, "0", kSignature, kBody).code(), errc::no_matching_signature);
}

// --- signatures -------------------------------------------------------------------------------

TEST(VerifyTest, RejectsTamperedBody) {
  const verifier v = make({kSecret});
  const verification r = v.verify(kId, kTimestampText, kSignature, R"({"test": 2432232315})");
  EXPECT_EQ(r.code(), errc::no_matching_signature);
  EXPECT_NE(r.message.find("webhook-signature"), std::string::npos);
  EXPECT_EQ(v.verify(kId, kTimestampText, kSignature, std::string(kBody) + " ").code(),
            errc::no_matching_signature);
  EXPECT_EQ(v.verify(kId, kTimestampText, kSignature, "").code(), errc::no_matching_signature);
}

TEST(VerifyTest, RejectsTamperedId) {
  const verifier v = make({kSecret});
  EXPECT_EQ(v.verify("msg_p5jXN8AQM9LWM0D4loKWxJeK", kTimestampText, kSignature, kBody).code(),
            errc::no_matching_signature);
}

TEST(VerifyTest, RejectsTamperedTimestamp) {
  const verifier v = make({kSecret});
  EXPECT_EQ(v.verify(kId, "1614265331", kSignature, kBody).code(), errc::no_matching_signature);
  // Same number, different text: the signed bytes are the header's bytes.
  EXPECT_EQ(v.verify(kId, "01614265330", kSignature, kBody).code(), errc::no_matching_signature);
}

TEST(VerifyTest, DoesNotConfuseWhereTheDotsAre) {
  // "a.b" "." "1" vs "a" "." "b.1": ids containing dots must not collide with other splits.
  const verifier v = make({kSecret});
  const std::string sig = sign_with(kSecret, "msg", kTimestamp, "x");
  EXPECT_TRUE(v.verify("msg", kTimestampText, sig, "x"));
  EXPECT_EQ(v.verify("msg.", kTimestampText, sig, "x").code(), errc::no_matching_signature);
}

TEST(VerifyTest, RejectsWrongSecret) {
  EXPECT_EQ(check(make({kOtherSecret}), kSignature).code(), errc::no_matching_signature);
}

TEST(VerifyTest, AcceptsEitherSignatureDuringRotation) {
  const std::string old_sig = sign_with(kOtherSecret, kId, kTimestamp, kBody);
  const std::string both = old_sig + " " + std::string(kSignature);
  const std::string both_reversed = std::string(kSignature) + " " + old_sig;
  for (const std::string& header : {both, both_reversed}) {
    EXPECT_TRUE(check(make({kSecret}), header)) << header;
    EXPECT_TRUE(check(make({kOtherSecret}), header)) << header;
    EXPECT_TRUE(check(make({kSecret, kOtherSecret}), header)) << header;
  }
}

TEST(VerifyTest, AcceptsAnyConfiguredKey) {
  const std::string old_sig = sign_with(kOtherSecret, kId, kTimestamp, kBody);
  EXPECT_TRUE(check(make({kSecret, kOtherSecret}), kSignature));
  EXPECT_TRUE(check(make({kSecret, kOtherSecret}), old_sig));
  EXPECT_TRUE(check(make({kOtherSecret, kSecret}), kSignature));
  const std::string third = sign_with(generate_hmac_secret(), kId, kTimestamp, kBody);
  EXPECT_EQ(check(make({kSecret, kOtherSecret}), third).code(), errc::no_matching_signature);
}

TEST(VerifyTest, SkipsMalformedEntries) {
  const verifier v = make({kSecret});
  const std::string good(kSignature);
  const std::string b64 = good.substr(3);
  const std::string malformed[] = {
      "garbage",
      "v1",
      "v1,",
      ",",
      "," + b64,
      "v1" + b64,                                        // missing comma
      "v1;" + b64,                                       // wrong separator
      "v1, " + b64,                                      // space after the comma splits the entry
      "V1," + b64,                                       // versions are case-sensitive
      "v2," + b64,                                       // unknown version
      "v1a," + b64,                                      // right bytes, wrong scheme
      "v1," + b64.substr(0, 42),                         // truncated
      "v1," + b64.substr(0, 20) + "*" + b64.substr(21),  // one bad character
      "v1," + b64 + "=",                                 // extra padding
      "v1," + b64.substr(0, b64.size() - 1),             // missing padding
      "v1," + b64.substr(0, 42) + "\xc3\xa9",            // unicode
      "v1,!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!=",
      "v1," + b64 + b64,  // too long
      "v1,\t" + b64,
      std::string("\xff\xfe\x00garbage", 10),
  };
  for (const std::string& entry : malformed) {
    const verification alone = check(v, entry);
    EXPECT_EQ(alone.code(), errc::no_matching_signature) << entry;
    // A malformed entry never hides a good one, wherever the spaces are.
    EXPECT_TRUE(check(v, entry + " " + good)) << entry;
    EXPECT_TRUE(check(v, good + " " + entry)) << entry;
    EXPECT_TRUE(check(v, "  " + entry + "   " + good + "  ")) << entry;
  }
}

TEST(VerifyTest, RejectsNonCanonicalBase64) {
  // The right bytes spelled otherwise do not match, as in every Standard Webhooks library:
  // without the padding, or with unused trailing bits set.
  const std::string good(kSignature);  // 32 bytes: 43 characters and one '='
  ASSERT_EQ(good.back(), '=');
  const std::string unpadded = good.substr(0, good.size() - 1);
  std::string trailing_bits = good;  // 'E' is 000100, and its last 2 bits carry nothing
  ASSERT_EQ(trailing_bits[trailing_bits.size() - 2], 'E');
  trailing_bits[trailing_bits.size() - 2] = 'F';
  const std::string ed(kEdSignature);  // 64 bytes: 86 characters and "=="
  ASSERT_EQ(ed.substr(ed.size() - 2), "==");
  const std::string entries[] = {unpadded, trailing_bits, ed.substr(0, ed.size() - 1),
                                 ed.substr(0, ed.size() - 2)};
  const verifier v = make({kSecret, kEdPublic});
  for (const std::string& entry : entries) {
    const verification r = check(v, entry);
    EXPECT_EQ(r.code(), errc::no_matching_signature) << entry;
    EXPECT_NE(r.message.find("no well-formed"), std::string::npos) << r.message;
  }
  EXPECT_TRUE(check(v, good));
  EXPECT_TRUE(check(v, ed));
}

TEST(VerifyTest, WhitespaceOnlyHeaderMatchesNothing) {
  const verification r = check(make({kSecret}), "     ");
  EXPECT_EQ(r.code(), errc::no_matching_signature);
  EXPECT_NE(r.message.find("webhook-signature"), std::string::npos);
}

TEST(VerifyTest, IgnoresOversizedSignatureHeader) {
  const verifier v = make({kSecret});
  std::string header(kSignature);
  while (header.size() <= max_signature_header_size) header += " v1,garbage";
  const verification r = check(v, header);
  EXPECT_EQ(r.code(), errc::no_matching_signature);
  EXPECT_NE(r.message.find("webhook-signature"), std::string::npos);

  const std::string megabyte(1 << 20, 'v');
  EXPECT_EQ(check(v, megabyte).code(), errc::no_matching_signature);
}

TEST(VerifyTest, LooksAtOnlyTheFirstEntries) {
  const verifier v = make({kSecret});
  std::string junk;
  for (std::size_t i = 0; i + 1 < max_signature_entries; ++i) junk += "v1,AAAA ";
  EXPECT_TRUE(check(v, junk + std::string(kSignature)));
  EXPECT_EQ(check(v, junk + "v1,AAAA " + std::string(kSignature)).code(),
            errc::no_matching_signature);
}

TEST(VerifyTest, VerifiesNonUtf8BodiesByteForByte) {
  const verifier v = make({kSecret});
  std::string body;
  for (int c = 0; c < 256; ++c) body += static_cast<char>(c);
  body += std::string("\xc3\x28\xa0\xa1\xf0\x28\x8c\x28\x00\x00", 10);
  const std::string sig = sign_with(kSecret, kId, kTimestamp, body);
  EXPECT_TRUE(v.verify(kId, kTimestampText, sig, body));
  for (const std::size_t i : {std::size_t{0}, std::size_t{128}, body.size() - 1}) {
    std::string flipped = body;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x01);
    EXPECT_EQ(v.verify(kId, kTimestampText, sig, flipped).code(), errc::no_matching_signature) << i;
  }
  EXPECT_EQ(
      v.verify(kId, kTimestampText, sig, std::string_view(body).substr(0, body.size() - 1)).code(),
      errc::no_matching_signature);
}

TEST(VerifyTest, VerifiesEmptyBody) {
  const verifier v = make({kSecret});
  const std::string sig = sign_with(kSecret, kId, kTimestamp, "");
  EXPECT_TRUE(v.verify(kId, kTimestampText, sig, ""));
  EXPECT_EQ(v.verify(kId, kTimestampText, sig, " ").code(), errc::no_matching_signature);
}

TEST(VerifyTest, VerifiesLargeBody) {
  const verifier v = make({kSecret});
  const std::string body(1 << 20, 'x');
  EXPECT_TRUE(v.verify(kId, kTimestampText, sign_with(kSecret, kId, kTimestamp, body), body));
}

// --- Ed25519 ----------------------------------------------------------------------------------

TEST(VerifyTest, AcceptsIndependentEd25519Signature) {
  EXPECT_TRUE(check(make({kEdPublic}), kEdSignature));
  EXPECT_TRUE(check(make({kEdSecret}), kEdSignature));  // a secret key verifies too
}

TEST(VerifyTest, Ed25519RoundTrip) {
  const ed25519_keypair pair = generate_ed25519_keypair();
  const std::string sig = sign_with(pair.secret_key, kId, kTimestamp, kBody);
  EXPECT_EQ(sig.rfind("v1a,", 0), 0U);
  EXPECT_TRUE(check(make({pair.public_key}), sig));
  EXPECT_EQ(check(make({pair.public_key}), kEdSignature).code(), errc::no_matching_signature);
}

TEST(VerifyTest, RejectsEd25519SignatureUnderWrongKey) {
  const ed25519_keypair other = generate_ed25519_keypair();
  EXPECT_EQ(check(make({other.public_key}), kEdSignature).code(), errc::no_matching_signature);
  EXPECT_EQ(check(make({other.secret_key}), kEdSignature).code(), errc::no_matching_signature);
}

TEST(VerifyTest, RejectsTamperedEd25519Content) {
  const verifier v = make({kEdPublic});
  EXPECT_EQ(v.verify(kId, kTimestampText, kEdSignature, std::string(kBody) + "x").code(),
            errc::no_matching_signature);
  EXPECT_EQ(v.verify("msg_other", kTimestampText, kEdSignature, kBody).code(),
            errc::no_matching_signature);
  EXPECT_EQ(v.verify(kId, "1614265331", kEdSignature, kBody).code(), errc::no_matching_signature);
  std::string flipped(kEdSignature);
  flipped[10] = flipped[10] == 'A' ? 'B' : 'A';
  EXPECT_EQ(check(v, flipped).code(), errc::no_matching_signature);
}

TEST(VerifyTest, MatchesSchemeToKeyType) {
  // An HMAC key never checks v1a entries and an Ed25519 key never checks v1 entries.
  const std::string good(kSignature);
  EXPECT_EQ(check(make({kSecret}), "v1a," + good.substr(3)).code(), errc::no_matching_signature);
  EXPECT_EQ(check(make({kSecret}), kEdSignature).code(), errc::no_matching_signature);
  EXPECT_EQ(check(make({kEdPublic}), kSignature).code(), errc::no_matching_signature);
  const std::string ed(kEdSignature);
  EXPECT_EQ(check(make({kEdPublic}), "v1," + ed.substr(4)).code(), errc::no_matching_signature);
}

TEST(VerifyTest, AcceptsMixedSchemesAndKeys) {
  const std::string both = std::string(kSignature) + " " + std::string(kEdSignature);
  EXPECT_TRUE(check(make({kSecret}), both));
  EXPECT_TRUE(check(make({kEdPublic}), both));
  EXPECT_TRUE(check(make({kOtherSecret, kEdPublic}), both));
  EXPECT_TRUE(check(make({kEdPublic, kSecret}), kSignature));
}

// --- keys -------------------------------------------------------------------------------------

TEST(VerifyTest, WithoutKeysReportsInvalidSecret) {
  const verifier v({}, {});
  const verification r = v.verify(kId, kTimestampText, kSignature, kBody, at(kTimestamp));
  EXPECT_EQ(r.code(), errc::invalid_secret);
  EXPECT_FALSE(r.message.empty());
  EXPECT_EQ(verifier({key(), key()})
                .verify(kId, kTimestampText, kSignature, kBody, at(kTimestamp))
                .code(),
            errc::invalid_secret);
}

TEST(VerifyTest, FromSecretsParsesEverySecret) {
  std::error_code ec = errc::replayed;
  verifier_options options;
  options.clock = [] { return at(kTimestamp); };
  const verifier v = verifier::from_secrets(
      {std::string(kOtherSecret), std::string(kSecret), std::string(kEdPublic)}, options, ec);
  EXPECT_FALSE(ec);
  EXPECT_TRUE(check(v, kSignature));
  EXPECT_TRUE(check(v, kEdSignature));
}

TEST(VerifyTest, FromSecretsWithABadSecretRejectsEverything) {
  std::error_code ec;
  verifier_options options;
  options.clock = [] { return at(kTimestamp); };
  const verifier v =
      verifier::from_secrets({std::string(kSecret), "whsec_not base64"}, options, ec);
  EXPECT_EQ(ec, errc::invalid_secret);
  EXPECT_EQ(check(v, kSignature).code(), errc::invalid_secret);
}

// --- order of the checks ----------------------------------------------------------------------

TEST(VerifyTest, ChecksInTheDocumentedOrder) {
  const auto guard = std::make_shared<memory_replay_guard>(10);
  const verifier v = make({kSecret}, kTimestamp + 1000, seconds(300), guard);
  // Missing header wins over a bad timestamp, a bad timestamp over its age, and so on.
  EXPECT_EQ(v.verify(kId, "abc", "", kBody).code(), errc::missing_header);
  EXPECT_EQ(v.verify(kId, "abc", "junk", kBody).code(), errc::invalid_timestamp);
  EXPECT_EQ(v.verify(kId, kTimestampText, "junk", kBody).code(), errc::timestamp_too_old);
  const verifier no_keys({}, v.options());
  EXPECT_EQ(no_keys.verify(kId, kTimestampText, "junk", kBody).code(), errc::timestamp_too_old);
  const std::string ts = std::to_string(kTimestamp + 1000);
  EXPECT_EQ(v.verify(kId, ts, "junk", kBody).code(), errc::no_matching_signature);
  EXPECT_EQ(guard->size(), 0U);  // nothing remembered before a verified signature
  const std::string sig = sign_with(kSecret, kId, kTimestamp + 1000, kBody);
  EXPECT_TRUE(v.verify(kId, ts, sig, kBody));
  EXPECT_EQ(v.verify(kId, ts, sig, kBody).code(), errc::replayed);
  // A replayed id still fails earlier checks first.
  EXPECT_EQ(v.verify(kId, ts, "junk", kBody).code(), errc::no_matching_signature);
}

// --- replay -----------------------------------------------------------------------------------

TEST(VerifyTest, RejectsReplayedId) {
  const auto guard = std::make_shared<memory_replay_guard>(10);
  const verifier v = make({kSecret}, kTimestamp, seconds(300), guard);
  EXPECT_TRUE(check(v, kSignature));
  const verification again = check(v, kSignature);
  EXPECT_EQ(again.code(), errc::replayed);
  EXPECT_NE(again.message.find("webhook-id"), std::string::npos);
  EXPECT_EQ(again.id, kId);
  guard->forget(kId);
  EXPECT_TRUE(check(v, kSignature));
}

TEST(VerifyTest, ForgedRequestDoesNotBurnTheId) {
  const auto guard = std::make_shared<memory_replay_guard>(10);
  const verifier v = make({kSecret}, kTimestamp, seconds(300), guard);
  EXPECT_EQ(check(v, sign_with(kOtherSecret, kId, kTimestamp, kBody)).code(),
            errc::no_matching_signature);
  EXPECT_TRUE(check(v, kSignature));
}

TEST(VerifyTest, RemembersIdsUntilTheToleranceWindowCloses) {
  struct recording_guard : replay_guard {
    bool remember(std::string_view id, system_clock::time_point now,
                  system_clock::time_point expires) override {
      ids.emplace_back(id);
      nows.push_back(now);
      expiries.push_back(expires);
      return true;
    }
    void forget(std::string_view) override {}
    std::vector<std::string> ids;
    std::vector<system_clock::time_point> nows, expiries;
  };
  const auto guard = std::make_shared<recording_guard>();
  EXPECT_TRUE(check(make({kSecret}, kTimestamp + 7, seconds(60), guard), kSignature));
  ASSERT_EQ(guard->ids.size(), 1U);
  EXPECT_EQ(guard->ids[0], kId);
  EXPECT_EQ(guard->nows[0], at(kTimestamp + 7));
  // Until the last instant the timestamp check would still let the message through.
  EXPECT_EQ(guard->expiries[0], at(kTimestamp + 60 + 1));
}

TEST(VerifyTest, ReplayWindowEndsWhenTimestampExpires) {
  const auto guard = std::make_shared<memory_replay_guard>(10);
  EXPECT_TRUE(check(make({kSecret}, kTimestamp, seconds(300), guard), kSignature));
  EXPECT_EQ(check(make({kSecret}, kTimestamp + 300, seconds(300), guard), kSignature).code(),
            errc::replayed);
  EXPECT_EQ(check(make({kSecret}, kTimestamp + 301, seconds(300), guard), kSignature).code(),
            errc::timestamp_too_old);
}

// --- robustness -------------------------------------------------------------------------------

TEST(VerifyTest, NeverThrowsOnHostileInput) {
  const verifier v = make({kSecret, kEdPublic});
  const std::string inputs[] = {"",
                                " ",
                                ",",
                                "v1a,",
                                std::string(100000, ','),
                                std::string(5000, ' '),
                                std::string("\0\0\0", 3),
                                "v1a," + std::string(88, 'A'),
                                "v1," + std::string(44, '/')};
  for (const std::string& a : inputs) {
    for (const std::string& b : inputs) {
      EXPECT_NO_THROW({
        const verification r = v.verify(a, b, a, b);
        EXPECT_FALSE(r);
        EXPECT_NO_THROW(v.verify(kId, kTimestampText, a + b, kBody));
      });
    }
  }
}

TEST(VerifyTest, IsSafeToShareBetweenThreads) {
  // More threads than pooled HMAC contexts, so the overflow path runs too.
  const auto guard = std::make_shared<memory_replay_guard>(100000);
  const verifier v = make({kOtherSecret, kSecret, kEdPublic}, kTimestamp, seconds(300), guard);
  constexpr int kThreads = 12;
  constexpr int kPerThread = 200;
  std::atomic<int> accepted{0}, rejected{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = "msg_" + std::to_string(t) + "_" + std::to_string(i);
        const std::string body = std::string(kBody) + std::to_string(i);
        const std::string sig = sign_with(i % 2 ? kSecret : kOtherSecret, id, kTimestamp, body);
        (v.verify(id, kTimestampText, sig, body) ? accepted : wrong)++;
        (v.verify(id, kTimestampText, sig, body).code() == errc::replayed ? rejected : wrong)++;
        (v.verify(id + "x", kTimestampText, sig, body).code() == errc::no_matching_signature
             ? rejected
             : wrong)++;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(accepted.load(), kThreads * kPerThread);
  EXPECT_EQ(rejected.load(), 2 * kThreads * kPerThread);
  EXPECT_EQ(guard->size(), static_cast<std::size_t>(kThreads * kPerThread));
}

}  // namespace
}  // namespace tresse::receiver
