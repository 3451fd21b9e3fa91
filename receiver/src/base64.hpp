// Standard base64 (RFC 4648 §4, "+/" alphabet), internal to the receiver.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tresse::receiver::detail {

// Appends the padded encoding of `data` to `out`.
void base64_encode(const unsigned char* data, std::size_t size, std::string& out);

// The number of bytes `text` decodes to, or 0 when it is not base64. Padding is optional but
// must be correct when present; no whitespace; unused trailing bits must be zero.
std::size_t base64_decoded_size(std::string_view text) noexcept;

// Decodes `text` into `out`, which has room for `capacity` bytes. Returns the number of bytes
// written, or 0 when `text` is not base64 or does not fit. Never allocates.
std::size_t base64_decode(std::string_view text, unsigned char* out, std::size_t capacity) noexcept;

}  // namespace tresse::receiver::detail
