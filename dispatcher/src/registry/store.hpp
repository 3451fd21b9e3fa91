// Endpoints in Redis: create, read, update, delete, rotate secrets, list by business with
// cursor pagination, and the failure counters. Every change bumps a global version counter,
// which is how registry::cache notices changes cheaply. Key layout: redis/keys.hpp.
//
//   registry::store endpoints(redis, registry::secret_box::from_text(key).value());
//   auto ep = endpoints.create({.business_id = "biz_1", .url = "https://example.com/hook",
//                               .events = {"appointment.*"}});
//   // ep->secret is shown to the user once; reads return it too (the dispatcher signs with it)
//   auto page = endpoints.list("biz_1", {.limit = 20, .cursor = ""});
//
// Secrets are AES-256-GCM encrypted at rest when a secret_box is given. Updates are
// compare-and-set Lua scripts on the stored record, so two concurrent updates never lose one
// another's change. Every script touches one endpoint's keys only (one hash tag: redis/keys.hpp);
// the indexes and the version counter are written by plain commands in their own round trips,
// in an order that leaves no index naming a missing record, and the version bumped last. All methods are thread-safe. The API's operations also come as
// redis::operation (create_op, get_op, ...: redis/request.hpp), the same round trips for a
// caller with the non-blocking client; the blocking methods run those. Errors: transient when Redis
// is unreachable; permanent for invalid input (message says which field) or an undecryptable
// record.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redis/client.hpp"
#include "redis/request.hpp"
#include "registry/endpoint.hpp"
#include "registry/secret_box.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::registry {

struct endpoint_spec {
  std::string business_id;
  std::string url;
  std::vector<std::string> events;
  bool livemode = true;
  std::string description;
  std::uint32_t rate_limit_per_second = 0;
  ordering order = ordering::none;
  bool enabled = true;
  header_list headers;
  endpoint_auth auth;
  client_certificate tls_client_certificate;
  std::uint32_t timeout_seconds = 0;  // 0: delivery.timeout
  signature_scheme scheme = signature_scheme::v1;  // its keys are generated on create
};

// Fields left empty are unchanged.
struct endpoint_update {
  std::optional<std::string> url;
  std::optional<std::vector<std::string>> events;
  std::optional<std::string> description;
  std::optional<std::uint32_t> rate_limit_per_second;
  std::optional<ordering> order;
  std::optional<bool> enabled;  // enabling clears disabled_reason
  std::optional<header_list> headers;          // replaces them all
  std::optional<endpoint_auth> auth;           // kind::none removes it
  std::optional<client_certificate> tls_client_certificate;  // empty removes it
  std::optional<std::uint32_t> timeout_seconds;  // 0: back to delivery.timeout
  std::optional<signature_scheme> scheme;        // generates the kind of key it lacks
};

struct failure_streak {
  std::int64_t consecutive_failures = 0;  // 0 when no such endpoint
  std::optional<clock::time_point> failing_since;  // the streak's first failure
};

struct page_request {
  std::size_t limit = 20;  // clamped to 1..100
  std::string cursor;      // "" for the first page, else the previous page's next_cursor
};

struct endpoint_page {
  std::vector<endpoint> data;  // ascending id, i.e. creation order
  bool has_more = false;
  std::string next_cursor;  // the last id of this page; "" when !has_more
};

struct store_options {
  std::optional<secret_box> encryption;  // none: secrets stored in clear (a warning is logged)
  std::function<clock::time_point()> now = [] { return clock::now(); };
  // The retry schedule's shards (retry::store_options::shards): deleting an endpoint purges its
  // ordered queues, which live under its retry shard's hash tag.
  std::size_t retry_shards = 16;
};

class store {
 public:
  store(std::shared_ptr<redis::client> redis, store_options opts = {});

  // Validates the spec (business id, http(s) url, known event patterns, the options of
  // registry/endpoint_options.hpp), generates the id and the keys its scheme signs with (a
  // whsec_ secret for v1, an Ed25519 key pair for v1a), and stores it. The returned endpoint
  // carries them.
  result<endpoint> create(const endpoint_spec& spec);

  // nullopt when no such endpoint.
  result<std::optional<endpoint>> get(std::string_view id);
  result<std::optional<endpoint>> update(std::string_view id, const endpoint_update& changes);
  // false when no such endpoint. Also drops its counters.
  result<bool> remove(std::string_view id);

  // Each current key the scheme signs with (whsec_ secret, Ed25519 key) becomes a previous one,
  // still signing until now + expires_in; new current ones are generated. Expired previous keys
  // are dropped.
  result<std::optional<endpoint>> rotate_secret(
      std::string_view id, std::chrono::seconds expires_in = std::chrono::hours(24));

  // Disables the endpoint with a reason (e.g. "410 Gone"). false when no such endpoint.
  result<bool> disable(std::string_view id, std::string_view reason);
  // The same, unless it is disabled already (its reason then stays). true only for the call
  // that disabled it: of concurrent callers exactly one gets true.
  result<bool> disable_if_enabled(std::string_view id, std::string_view reason);

  // A business's endpoints, in id order. Stable under concurrent deletes and inserts: the
  // cursor is the last id seen, and the next page starts strictly after it.
  result<endpoint_page> list(std::string_view business_id, const page_request& req = {});


  // Every endpoint (for registry::cache), without the counters. A record that cannot be read
  // (e.g. encrypted with another key) is skipped and logged, so one bad record does not stop
  // delivery to all the others.
  result<std::vector<endpoint>> list_all();

  // The version counter: changes on every create/update/remove/rotate/disable.
  result<std::int64_t> version();

  // The operations above as round trips for either client (redis/request.hpp); the methods
  // above run these on the store's blocking client. The store must outlive them.
  redis::operation<endpoint> create_op(const endpoint_spec& spec) const;
  redis::operation<std::optional<endpoint>> get_op(std::string_view id) const;
  redis::operation<std::optional<endpoint>> update_op(std::string_view id,
                                                      const endpoint_update& changes) const;
  redis::operation<bool> remove_op(std::string_view id) const;
  redis::operation<std::optional<endpoint>> rotate_secret_op(
      std::string_view id, std::chrono::seconds expires_in = std::chrono::hours(24)) const;
  redis::operation<std::int64_t> version_op() const;
  // list() as two round trips: the index's ids, then their records and counters.
  redis::operation<endpoint_page> list_op(std::string_view business_id,
                                          const page_request& req = {}) const;
  // Pieces of those, for a caller that pipelines several at once (the API's page cache): one
  // endpoint's counters (an HMGET) and what its reply says, the version's GET and its value.
  static std::vector<std::string> counters_command(std::string_view id);
  static void apply_counters(endpoint& ep, const redis::reply& hmget);
  static std::vector<std::string> version_command();
  static std::int64_t version_of(const redis::reply& get);

  // Failure bookkeeping: a failed delivery attempt bumps failure_count and
  // consecutive_failures (returned); a success resets consecutive_failures. No version bump.
  result<std::int64_t> record_failure(std::string_view id);
  // The same, also telling when the current streak of failures began (for auto-disable).
  result<failure_streak> record_failure_streak(std::string_view id);
  // A delivery to the endpoint was dead-lettered: bumps dead_lettered and, when it had exhausted
  // its retries, consecutive_dead_lettered; returns the latter (0 when no such endpoint). A
  // success resets the streak. Counters only for endpoints that exist.
  result<std::int64_t> record_dead_letter(std::string_view id, bool exhausted = true);
  status record_success(std::string_view id);

  // What the failure bookkeeping sends, for the delivery path's non-blocking client: one script
  // call each, and the reply's meaning.
  redis::request record_failure_call(std::string_view id) const;
  static failure_streak failure_streak_from_reply(const redis::reply& r);
  static redis::request record_dead_letter_call(std::string_view id, bool exhausted);
  static redis::request record_success_call(std::string_view id);

 private:
  result<std::string> serialize(const endpoint& ep) const;
  result<endpoint> parse(std::string_view id, std::string_view raw) const;  // cached
  result<endpoint> parse_record(std::string_view id, std::string_view raw) const;
  // The record and its counters (one round trip), and what it returns: the endpoint and the
  // record's bytes, nullopt when no such endpoint.
  static redis::request load_request(std::string_view id);
  result<std::optional<std::pair<endpoint, std::string>>> loaded(std::string_view id,
                                                                 redis::replies r) const;
  // Compare-and-set: read, modify with `change`, write back only if unchanged meanwhile.
  redis::operation<std::optional<endpoint>> modify_op(
      std::string_view id, std::function<status(endpoint&)> change) const;

  std::shared_ptr<redis::client> redis_;
  store_options opts_;
  // Parsed records by id, reused while the stored bytes are unchanged: parsing (and
  // decrypting) every record of every page dominated listing. Bounded; shared by copies.
  struct parse_cache;
  std::shared_ptr<parse_cache> parsed_;
};

}  // namespace tresse::dispatcher::registry
