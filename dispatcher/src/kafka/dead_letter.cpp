#include "kafka/dead_letter.hpp"

#include <openssl/evp.h>

#include <string>

#include "tresse/common/event.hpp"

namespace tresse::dispatcher::kafka {
namespace {

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

bool is_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

bool is_json_object(std::string_view s) {
  auto first = s.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && s[first] == '{' && nlohmann::json::accept(s);
}

}  // namespace

std::string dead_letter_json(const dead_letter& dl, std::chrono::system_clock::time_point now) {
  using ordered = nlohmann::ordered_json;
  ordered doc;
  doc["reason"] = dl.reason;
  // Past the cap the record would outgrow Kafka's message size; the source offset still
  // points at the whole message.
  bool too_big = dl.original.size() > max_dead_letter_original_bytes;
  bool original_is_json = !too_big && is_json_object(dl.original);
  if (!original_is_json) {
    std::string_view shown = too_big ? dl.original.substr(0, 64 * 1024) : dl.original;
    ordered original = {{"base64", base64(shown)}};
    if (is_utf8(shown)) original["text"] = std::string(shown);
    if (too_big) {
      original["truncated"] = true;
      original["size"] = dl.original.size();
    }
    doc["original"] = std::move(original);
  }
  if (dl.endpoint_id) doc["endpoint_id"] = *dl.endpoint_id;
  doc["attempts"] = dl.attempts.is_array() ? ordered(dl.attempts) : ordered::array();
  doc["source"] = {{"topic", dl.source.topic},
                   {"partition", dl.source.partition},
                   {"offset", dl.source.offset},
                   {"key", dl.source.key}};
  doc["dead_lettered_at"] = tresse::events::format_rfc3339(now);
  // Strings from the network may hold invalid UTF-8 (the key, a reason quoting input).
  std::string text = doc.dump(-1, ' ', false, ordered::error_handler_t::replace);
  if (original_is_json) {
    // Splice the original in verbatim: {"reason":...,"event":<original>}.
    text.pop_back();  // '}'
    text += ",\"event\":";
    text += dl.original;
    text += '}';
  }
  return text;
}

dead_letter_producer::dead_letter_producer(std::shared_ptr<tresse::kafka::producer> producer,
                                           dead_letter_options options)
    : producer_(std::move(producer)), options_(std::move(options)) {}

status dead_letter_producer::produce_and_wait(const dead_letter& dl,
                                              std::chrono::system_clock::time_point now) {
  std::string record = dead_letter_json(dl, now);
  const std::string& key = dl.business_id ? *dl.business_id : dl.source.key;
  return producer_->produce_and_wait(options_.topic, key, record, options_.ack_timeout);
}

}  // namespace tresse::dispatcher::kafka
