#include "tresse/receiver/sign.hpp"

#include <array>
#include <charconv>
#include <new>

#include "base64.hpp"
#include "key_state.hpp"
#include "tresse/receiver/errc.hpp"

namespace tresse::receiver {

std::string sign(const key& k, std::string_view id, std::int64_t timestamp, std::string_view body,
                 std::error_code& ec) {
  ec.clear();
  const detail::key_state* state = k.state();
  if (state == nullptr || !k.can_sign()) {
    ec = errc::invalid_secret;
    return {};
  }
  std::array<char, 24> digits;
  const auto [end, conv] = std::to_chars(digits.data(), digits.data() + digits.size(), timestamp);
  (void)conv;  // 24 characters always hold an int64
  const std::string_view ts(digits.data(), static_cast<std::size_t>(end - digits.data()));
  try {
    std::string out;
    if (state->kind == key_kind::hmac) {
      detail::hmac_bytes mac;
      if (!state->hmac({id, ts, body}, mac)) {
        ec = errc::invalid_secret;
        return {};
      }
      out = "v1,";
      detail::base64_encode(mac.data(), mac.size(), out);
    } else {
      // Ed25519 signs the whole message at once (no streaming), so join it.
      std::string message;
      message.reserve(id.size() + ts.size() + body.size() + 2);
      message.append(id).append(".").append(ts).append(".").append(body);
      detail::ed25519_signature sig;
      if (!state->ed25519_sign(message, sig)) {
        ec = errc::invalid_secret;
        return {};
      }
      out = "v1a,";
      detail::base64_encode(sig.data(), sig.size(), out);
    }
    return out;
  } catch (const std::bad_alloc&) {
    ec = std::make_error_code(std::errc::not_enough_memory);
    return {};
  }
}

std::string sign_all(const std::vector<key>& keys, std::string_view id, std::int64_t timestamp,
                     std::string_view body, std::error_code& ec) {
  ec.clear();
  if (keys.empty()) {
    ec = errc::invalid_secret;
    return {};
  }
  std::string out;
  for (const key& k : keys) {
    std::string one = sign(k, id, timestamp, body, ec);
    if (ec) return {};
    if (!out.empty()) out += ' ';
    out += one;
  }
  return out;
}

}  // namespace tresse::receiver
