// Fuzzes the webhook-signature header against fixed keys. Input: "<signature header>\n<body>".
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "tresse/receiver/sign.hpp"
#include "tresse/receiver/verify.hpp"

namespace {

using namespace tresse;

const receiver::key& hmac_key() {
  static const receiver::key k = fuzz::must_parse(fuzz::hmac_secret);
  return k;
}
const receiver::key& ed25519_key() {
  static const receiver::key k = fuzz::must_parse(fuzz::ed25519_secret);
  return k;
}

std::string sign(const receiver::key& k, std::string_view body) {
  std::error_code ec;
  std::string s = receiver::sign(k, fuzz::webhook_id, 1614265330, body, ec);
  FUZZ_CHECK(!ec);
  return s;
}

std::size_t count_entries(std::string_view header) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < header.size(); ++i) {
    n += header[i] != ' ' && (i == 0 || header[i - 1] == ' ');
  }
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const receiver::verifier verifier({hmac_key(), ed25519_key()},
                                           {.clock = &fuzz::fixed_now});
  std::string_view rest = fuzz::as_text(data, size);
  const std::string_view header = fuzz::next_field(rest);
  const std::string_view body = rest;

  const receiver::verification r =
      verifier.verify(fuzz::webhook_id, fuzz::webhook_timestamp, header, body);
  if (header.empty()) {
    FUZZ_CHECK(r.code() == receiver::errc::missing_header);
    return 0;
  }
  FUZZ_CHECK(r || r.code() == receiver::errc::no_matching_signature);
  FUZZ_CHECK(!r.message.empty() || r);

  const std::string v1 = sign(hmac_key(), body);
  const std::string v1a = sign(ed25519_key(), body);
  if (r) {
    // Only a real signature of this body passes, spelled canonically (padding included), and
    // it binds the body.
    FUZZ_CHECK(header.find(v1) != std::string_view::npos ||
               header.find(v1a) != std::string_view::npos);
    const std::string other_body = std::string(body) + "x";
    FUZZ_CHECK(!verifier.verify(fuzz::webhook_id, fuzz::webhook_timestamp, header, other_body));
  }
  // Junk entries in front must not hide a valid one (within the documented limits).
  if (count_entries(header) < receiver::max_signature_entries &&
      header.size() + 1 + v1.size() <= receiver::max_signature_header_size) {
    const std::string with_valid = std::string(header) + " " + v1;
    FUZZ_CHECK(verifier.verify(fuzz::webhook_id, fuzz::webhook_timestamp, with_valid, body));
  }
  return 0;
}
