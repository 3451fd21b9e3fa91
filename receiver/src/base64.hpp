// Standard base64 (RFC 4648 §4, "+/" alphabet), internal to the receiver.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tresse::receiver::detail {

// Appends the padded encoding of `data` to `out`.
void base64_encode(const unsigned char* data, std::size_t size, std::string& out);

// Whether '=' padding may be left out. Secrets are typed and pasted by people, so their padding
// is optional; a signature is produced by a program, and Standard Webhooks compares its text, so
// it must be canonical: exactly what base64_encode produces (every reference library rejects an
// entry without its padding).
enum class padding { optional, required };

// The number of bytes `text` decodes to, or 0 when it is not base64. Padding must be correct
// when present (and present with padding::required); no whitespace; unused trailing bits must
// be zero. With padding::required only the canonical encoding of some bytes passes.
std::size_t base64_decoded_size(std::string_view text, padding pad = padding::optional) noexcept;

// Decodes `text` into `out`, which has room for `capacity` bytes. Returns the number of bytes
// written, or 0 when `text` is not base64 (as above) or does not fit. Never allocates.
std::size_t base64_decode(std::string_view text, unsigned char* out, std::size_t capacity,
                          padding pad = padding::optional) noexcept;

}  // namespace tresse::receiver::detail
