// Idempotency-Key on POST: the same key (per API key) within 24 h gets the first response
// again, so a client may retry a POST whose answer it lost without creating twice.
//
//   api::idempotency idem(redis);
//   auto b = idem.begin(caller.key_id, header, fingerprint_of(req));
//   switch (b->state) { case fresh: ... handle ...; idem.finish(..., response); break;
//                       case replay: return b->status, b->body;  case conflict: 409; }
//
// The first request claims the key (state "pending") for a short lease only (`lease`: the
// longest a request runs, plus a margin), so that a request that died mid-way (a crash, a lost
// Redis connection) blocks its key for that long, not for the 24 h a response is kept; its
// response, when it comes, is kept for `ttl`. A concurrent duplicate or a different request
// under the same key is a conflict. Responses that say "try again" (429,
// 5xx) are not kept: the claim is released so that the client's retry runs for real. A kept
// response may hold an endpoint secret (POST /v1/webhooks answers with it): with a secret_box
// (registry.encryption_key) it is stored sealed, like the registry's secrets.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "redis/client.hpp"
#include "redis/request.hpp"
#include "registry/secret_box.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::api {

struct idempotent_start {
  enum class state { fresh, replay, in_progress, mismatch };
  state what = state::fresh;
  unsigned status = 0;  // replay: the first response
  std::string body;
};

class idempotency {
 public:
  explicit idempotency(std::shared_ptr<redis::client> redis,
                       std::optional<registry::secret_box> box = std::nullopt,
                       std::chrono::seconds ttl = std::chrono::hours(24),
                       std::chrono::seconds lease = std::chrono::seconds(60))
      : redis_(std::move(redis)), box_(std::move(box)), ttl_(ttl), lease_(lease) {}

  // `fingerprint`: what makes two requests "the same" (method, path, body hash).
  result<idempotent_start> begin(std::string_view key_id, std::string_view idempotency_key,
                                 std::string_view fingerprint);
  // Stores the response of a fresh request (or releases the claim, see above).
  status finish(std::string_view key_id, std::string_view idempotency_key, unsigned status,
                std::string_view body);

  // The same as round trips for either client (redis/request.hpp); `this` must outlive them.
  redis::operation<idempotent_start> begin_op(std::string_view key_id,
                                              std::string_view idempotency_key,
                                              std::string_view fingerprint) const;
  redis::operation<std::monostate> finish_op(std::string_view key_id,
                                             std::string_view idempotency_key, unsigned status,
                                             std::string_view body) const;

 private:
  std::shared_ptr<redis::client> redis_;
  std::optional<registry::secret_box> box_;
  std::chrono::seconds ttl_;
  std::chrono::seconds lease_;
};

// A valid Idempotency-Key: 1-255 printable ASCII characters.
bool valid_idempotency_key(std::string_view k);

}  // namespace tresse::dispatcher::api
