// The C API: a thin, exception-free shell over verifier, key and sign.
#include <chrono>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "tresse/receiver.h"
#include "tresse/receiver/errc.hpp"
#include "tresse/receiver/sign.hpp"
#include "tresse/receiver/verify.hpp"

namespace rx = tresse::receiver;

struct tresse_verifier {
  std::vector<rx::key> keys;
  rx::verifier verifier{{}};
};

namespace {

static_assert(TRESSE_MISSING_HEADER == static_cast<int>(rx::errc::missing_header));
static_assert(TRESSE_INVALID_TIMESTAMP == static_cast<int>(rx::errc::invalid_timestamp));
static_assert(TRESSE_TIMESTAMP_TOO_OLD == static_cast<int>(rx::errc::timestamp_too_old));
static_assert(TRESSE_TIMESTAMP_TOO_NEW == static_cast<int>(rx::errc::timestamp_too_new));
static_assert(TRESSE_NO_MATCHING_SIGNATURE == static_cast<int>(rx::errc::no_matching_signature));
static_assert(TRESSE_INVALID_SECRET == static_cast<int>(rx::errc::invalid_secret));
static_assert(TRESSE_REPLAYED == static_cast<int>(rx::errc::replayed));

// Copies as much of `text` as fits, always NUL-terminating a non-empty buffer.
void copy_out(std::string_view text, char* out, std::size_t size) {
  if (out == nullptr || size == 0) return;
  const std::size_t n = text.size() < size - 1 ? text.size() : size - 1;
  std::memcpy(out, text.data(), n);
  out[n] = '\0';
}

std::string_view view(const char* s) { return s == nullptr ? std::string_view() : s; }

}  // namespace

extern "C" {

tresse_verifier* tresse_verifier_new(const char* const* secrets, size_t count,
                                     int64_t tolerance_seconds) {
  if ((secrets == nullptr && count > 0) || tolerance_seconds < 0) return nullptr;
  try {
    auto* v = new tresse_verifier;
    for (size_t i = 0; i < count; ++i) {
      std::error_code ec;
      v->keys.push_back(secrets[i] == nullptr ? rx::key() : rx::key::parse(secrets[i], ec));
      if (secrets[i] == nullptr || ec) {
        delete v;
        return nullptr;
      }
    }
    rx::verifier_options options;
    if (tolerance_seconds > 0) options.tolerance = std::chrono::seconds(tolerance_seconds);
    v->verifier = rx::verifier(v->keys, std::move(options));
    return v;
  } catch (...) {
    return nullptr;
  }
}

void tresse_verifier_free(tresse_verifier* v) { delete v; }

int tresse_verifier_enable_replay_guard(tresse_verifier* v, size_t capacity) {
  if (v == nullptr) return TRESSE_INVALID_ARGUMENT;
  try {
    rx::verifier_options options = v->verifier.options();
    options.replay = std::make_shared<rx::memory_replay_guard>(capacity == 0 ? 100000 : capacity);
    v->verifier = rx::verifier(v->keys, std::move(options));
    return TRESSE_OK;
  } catch (...) {
    return TRESSE_OUT_OF_MEMORY;
  }
}

void tresse_verifier_forget(tresse_verifier* v, const char* id) {
  if (v == nullptr || id == nullptr || !v->verifier.options().replay) return;
  try {
    v->verifier.options().replay->forget(id);
  } catch (...) {
  }
}

int tresse_verifier_verify(const tresse_verifier* v, const char* id, const char* timestamp,
                           const char* signature, const void* body, size_t body_len, int64_t now,
                           char* message, size_t message_size) {
  copy_out("", message, message_size);
  if (v == nullptr || (body == nullptr && body_len > 0)) {
    copy_out("invalid argument", message, message_size);
    return TRESSE_INVALID_ARGUMENT;
  }
  try {
    const std::string_view body_view(static_cast<const char*>(body), body_len);
    const auto at = now != 0 ? std::chrono::system_clock::time_point(std::chrono::seconds(now))
                             : std::chrono::system_clock::now();
    const rx::verification r =
        v->verifier.verify(view(id), view(timestamp), view(signature), body_view, at);
    if (r) return TRESSE_OK;
    copy_out(r.message, message, message_size);
    return r.error.value();
  } catch (...) {
    copy_out("out of memory", message, message_size);
    return TRESSE_OUT_OF_MEMORY;
  }
}

int tresse_sign(const char* secret, const char* id, int64_t timestamp, const void* body,
                size_t body_len, char* out, size_t out_size) {
  if (secret == nullptr || id == nullptr || out == nullptr || (body == nullptr && body_len > 0)) {
    return TRESSE_INVALID_ARGUMENT;
  }
  try {
    std::error_code ec;
    const rx::key k = rx::key::parse(secret, ec);
    if (ec) return TRESSE_INVALID_SECRET;
    const std::string sig =
        rx::sign(k, id, timestamp, std::string_view(static_cast<const char*>(body), body_len), ec);
    if (ec) return ec == rx::errc::invalid_secret ? TRESSE_INVALID_SECRET : TRESSE_OUT_OF_MEMORY;
    if (sig.size() + 1 > out_size) return TRESSE_BUFFER_TOO_SMALL;
    copy_out(sig, out, out_size);
    return TRESSE_OK;
  } catch (...) {
    return TRESSE_OUT_OF_MEMORY;
  }
}

const char* tresse_error_name(int code) {
  switch (code) {
    case TRESSE_OK:
      return "ok";
    case TRESSE_INVALID_ARGUMENT:
      return "invalid_argument";
    case TRESSE_BUFFER_TOO_SMALL:
      return "buffer_too_small";
    case TRESSE_OUT_OF_MEMORY:
      return "out_of_memory";
    default:
      break;
  }
  if (code >= TRESSE_MISSING_HEADER && code <= TRESSE_REPLAYED) {
    // Static storage: to_string returns views of string literals.
    return rx::to_string(static_cast<rx::errc>(code)).data();
  }
  return "unknown";
}

}  // extern "C"
