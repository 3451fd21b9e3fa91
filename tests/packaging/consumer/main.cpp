// Signs and verifies with the installed receiver (C++ and C APIs); exits 0 only if every
// result is the expected one.
#include <tresse/receiver.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <system_error>
#include <tresse/receiver/sign.hpp>
#include <tresse/receiver/verify.hpp>

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
  std::printf("%s: %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) ++failures;
}

}  // namespace

int main() {
  namespace rx = tresse::receiver;
  // The Standard Webhooks specification's example.
  const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const std::string id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
  const std::string body = R"({"test": 2432232314})";
  const std::int64_t ts = 1614265330;

  std::error_code ec;
  const rx::key k = rx::key::parse(secret, ec);
  expect(!ec && !k.empty(), "parse whsec_ secret");
  const std::string sig = rx::sign(k, id, ts, body, ec);
  expect(!ec && sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "sign spec vector");

  rx::verifier_options options;
  options.clock = [&] { return std::chrono::system_clock::time_point(std::chrono::seconds(ts)); };
  const rx::verifier v({k}, options);
  expect(static_cast<bool>(v.verify(id, std::to_string(ts), sig, body)), "verify signed body");
  expect(
      v.verify(id, std::to_string(ts), sig, body + " ").code() == rx::errc::no_matching_signature,
      "reject tampered body");
  expect(rx::to_string(rx::errc::timestamp_too_old) == "timestamp_too_old", "error names");

  const rx::ed25519_keypair pair = rx::generate_ed25519_keypair();
  const rx::key ed_secret = rx::key::parse(pair.secret_key, ec);
  const std::string ed_sig = rx::sign(ed_secret, id, ts, body, ec);
  const rx::verifier ed({rx::key::parse(pair.public_key, ec)}, options);
  expect(!ec && static_cast<bool>(ed.verify(id, std::to_string(ts), ed_sig, body)),
         "Ed25519 sign and verify");

  const char* secrets[] = {secret.c_str()};
  tresse_verifier* cv = tresse_verifier_new(secrets, 1, 0);
  expect(cv != nullptr, "C API: tresse_verifier_new");
  if (cv != nullptr) {
    expect(tresse_verifier_verify(cv, id.c_str(), std::to_string(ts).c_str(), sig.c_str(),
                                  body.data(), body.size(), ts, nullptr, 0) == TRESSE_OK,
           "C API: verify");
    tresse_verifier_free(cv);
  }
  std::printf("%s\n", failures == 0 ? "consumer OK" : "consumer FAILED");
  return failures == 0 ? 0 : 1;
}
