// Fuzzes verification as a whole. Input: "<webhook-id>\n<webhook-timestamp>\n<webhook-signature>
// \n<body>"; the verifier holds an HMAC key, an Ed25519 secret key and an Ed25519 public key.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_support.hpp"
#include "tresse/receiver/sign.hpp"
#include "tresse/receiver/verify.hpp"

namespace {

using namespace tresse;

std::vector<receiver::key> keys() {
  return {fuzz::must_parse(fuzz::hmac_secret), fuzz::must_parse(fuzz::ed25519_secret),
          fuzz::must_parse(fuzz::ed25519_public)};
}

bool same(const receiver::verification& a, const receiver::verification& b) {
  return a.error == b.error && a.message == b.message && a.id == b.id && a.timestamp == b.timestamp;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const receiver::verifier verifier(keys(), {.clock = &fuzz::fixed_now});
  std::string_view rest = fuzz::as_text(data, size);
  const std::string_view id = fuzz::next_field(rest);
  const std::string_view timestamp = fuzz::next_field(rest);
  const std::string_view signature = fuzz::next_field(rest);
  const std::string_view body = rest;

  const receiver::verification r = verifier.verify(id, timestamp, signature, body);
  const int code = r.error.value();
  FUZZ_CHECK(code >= 0 && code <= static_cast<int>(receiver::errc::replayed));
  FUZZ_CHECK(code == 0 || r.error.category() == receiver::category());
  FUZZ_CHECK(r ? r.message.empty() : !r.message.empty());
  FUZZ_CHECK(!r || (!id.empty() && r.id == id));
  if (id.empty() || timestamp.empty() || signature.empty()) {
    FUZZ_CHECK(r.code() == receiver::errc::missing_header);
  }

  // The other ways of passing headers find the same values (names in any case).
  const std::string id_s(id), ts_s(timestamp), sig_s(signature);
  const std::map<std::string, std::string> as_map = {
      {"Webhook-Id", id_s}, {"WEBHOOK-TIMESTAMP", ts_s}, {"webhook-signature", sig_s}};
  FUZZ_CHECK(same(r, verifier.verify(as_map, body)));
  const receiver::header_lookup lookup =
      [&](std::string_view name) -> std::optional<std::string_view> {
    if (name == receiver::header_id) return id;
    if (name == receiver::header_timestamp) return timestamp;
    if (name == receiver::header_signature) return signature;
    return std::nullopt;
  };
  FUZZ_CHECK(same(r, verifier.verify(lookup, body)));

  if (r) {
    // With a replay guard the first delivery passes and the second is a replay.
    const receiver::verifier guarded(
        keys(),
        {.clock = &fuzz::fixed_now, .replay = std::make_shared<receiver::memory_replay_guard>(4)});
    FUZZ_CHECK(guarded.verify(id, timestamp, signature, body));
    FUZZ_CHECK(guarded.verify(id, timestamp, signature, body).code() == receiver::errc::replayed);
  }
  return 0;
}
