// Shared by the fuzz targets: fixed keys, the clock they run at, and a check that aborts (so
// both libFuzzer and the corpus replay test report it).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "tresse/receiver/key.hpp"

#define FUZZ_CHECK(cond)                                                                     \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (false)

namespace tresse::fuzz {

// The Standard Webhooks specification's example secret, id and timestamp.
inline constexpr std::string_view hmac_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
inline constexpr std::string_view webhook_id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
inline constexpr std::string_view webhook_timestamp = "1614265330";
// Ed25519 key pair from the seed 01 02 … 20.
inline constexpr std::string_view ed25519_secret =
    "whsk_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyB5tVYuj+ZU+UB4sRLoqYunkB+FOuaVvtfg45ELrQSWZA==";
inline constexpr std::string_view ed25519_public =
    "whpk_ebVWLo/mVPlAeLES6KmLp5AfhTrmlb7X4OORC60ElmQ=";

// The fuzz targets' "now": the timestamp above, so the corpus stays inside the window.
inline std::chrono::system_clock::time_point fixed_now() {
  return std::chrono::system_clock::time_point(std::chrono::seconds(1614265330));
}

inline receiver::key must_parse(std::string_view text) {
  std::error_code ec;
  receiver::key k = receiver::key::parse(text, ec);
  FUZZ_CHECK(!ec && !k.empty());
  return k;
}

// Splits off the text up to the next '\n' (all of it if there is none).
inline std::string_view next_field(std::string_view& rest) {
  const std::size_t nl = rest.find('\n');
  const std::string_view field = rest.substr(0, nl);
  rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
  return field;
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace tresse::fuzz
