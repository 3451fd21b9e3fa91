// Fuzzes key::parse. Input: the key text.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "tresse/receiver/errc.hpp"
#include "tresse/receiver/sign.hpp"
#include "tresse/receiver/verify.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tresse;
  const std::string_view text = fuzz::as_text(data, size);
  std::error_code ec;
  const receiver::key k = receiver::key::parse(text, ec);
  if (ec) {
    FUZZ_CHECK(ec == receiver::errc::invalid_secret && k.empty());
    return 0;
  }
  FUZZ_CHECK(!k.empty());
  const bool hmac = k.kind() == receiver::key_kind::hmac;
  FUZZ_CHECK(k.can_sign() == (k.kind() != receiver::key_kind::ed25519_public));
  FUZZ_CHECK(hmac == k.public_key().empty());

  if (!hmac) {
    // The public half round-trips and verifies what the secret half signs.
    const receiver::key pub = receiver::key::parse(k.public_key(), ec);
    FUZZ_CHECK(!ec && pub.kind() == receiver::key_kind::ed25519_public);
    FUZZ_CHECK(pub.public_key() == k.public_key());
  }
  if (k.can_sign()) {
    const std::string sig = receiver::sign(k, "msg_1", 1614265330, text, ec);
    FUZZ_CHECK(!ec && sig.rfind(hmac ? "v1," : "v1a,", 0) == 0);
    std::vector<receiver::key> verifying = {k};
    if (!hmac) verifying = {receiver::key::parse(k.public_key(), ec)};
    const receiver::verifier v(verifying, {.clock = &fuzz::fixed_now});
    FUZZ_CHECK(v.verify("msg_1", "1614265330", sig, text));
  } else {
    receiver::sign(k, "msg_1", 1614265330, text, ec);
    FUZZ_CHECK(ec == receiver::errc::invalid_secret);
  }
  return 0;
}
