// Known answers shared by the receiver tests.
#pragma once

#include <cstdint>
#include <string_view>

namespace tresse::receiver::test {

// The Standard Webhooks specification's published vector (also used by Svix's libraries).
inline constexpr std::string_view kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
inline constexpr std::string_view kId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
inline constexpr std::int64_t kTimestamp = 1614265330;
inline constexpr std::string_view kTimestampText = "1614265330";
inline constexpr std::string_view kBody = R"({"test": 2432232314})";
inline constexpr std::string_view kSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

// Another valid HMAC secret ("secret-of-a-rotated-endpoint").
inline constexpr std::string_view kOtherSecret = "whsec_c2VjcmV0LW9mLWEtcm90YXRlZC1lbmRwb2ludA==";

// Ed25519 with the RFC 8032 §7.1 TEST 1 key pair; the signature over
// kId "." kTimestampText "." kBody was computed independently with Node's crypto.sign.
inline constexpr std::string_view kEdSecret =
    "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2DXWpgBgrEKt9VL/tPJZAc6DuFy89qmIyWvAhpo9wdRGg==";
inline constexpr std::string_view kEdPublic = "whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
inline constexpr std::string_view kEdSignature =
    "v1a,fldxM4gAKugP6nnt1hdz3sgGfZ6d99nzrMFnZOELIxbzEHoVmAb2ADpkJK7zgPePmPsle0zV9jSeGlHFG2NVAw==";

}  // namespace tresse::receiver::test
