#include "registry/store.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "delivery/ordered_queue.hpp"
#include "http/url.hpp"
#include "redis/keys.hpp"
#include "registry/endpoint_options.hpp"
#include "tresse/common/event.hpp"
#include "tresse/common/log.hpp"
#include "tresse/receiver/key.hpp"

namespace tresse::dispatcher::registry {
namespace {

using json = nlohmann::json;
namespace keys = redis::keys;

constexpr std::size_t max_description_length = 512;
constexpr std::size_t max_events = 64;
constexpr std::size_t read_batch = 256;

// The version's bump, sent after the write it announces has been acknowledged (so that a cache
// reading the new version reads the written record: a cluster client runs the commands of one
// pipeline on different nodes in no set order). A missing counter starts from a random value,
// not 0, so a cache holding version N from a Redis that has since restarted empty cannot mistake
// the new Redis's N for its own. One key, so two plain commands.
redis::command_list bump_version_commands() {
  std::uint64_t r = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&r), sizeof r);
  const std::string seed = std::to_string((r >> 24) + 1);  // 40 bits: far from overflowing INCR
  redis::command_list c;
  c.add({"SET", keys::endpoints_version, seed, "NX"}).add({"INCR", keys::endpoints_version});
  return c;
}

// KEYS: the record. ARGV: expected record, new record.
// Writes only if the record still holds what we read: optimistic concurrency without WATCH
// (which would pin a pooled connection across calls).
const redis::script& compare_and_set_script() {
  static const redis::script s(R"lua(
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
)lua");
  return s;
}

// Counters only for endpoints that exist, so a late failure report cannot resurrect the
// counters of a deleted endpoint.
// ARGV[1]: now (unix ms). failing_since marks the start of the streak, for auto-disable.
// Returns {consecutive_failures, failing_since}.
const redis::script& record_failure_script() {
  static const redis::script s(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0} end
redis.call('HINCRBY', KEYS[2], 'failure_count', 1)
local n = redis.call('HINCRBY', KEYS[2], 'consecutive_failures', 1)
redis.call('HSETNX', KEYS[2], 'failing_since', ARGV[1])
return {n, tonumber(redis.call('HGET', KEYS[2], 'failing_since'))}
)lua");
  return s;
}

// KEYS: endpoint record, endpoint stats. ARGV[1]: "1" when the retries were exhausted.
const redis::script& record_dead_letter_script() {
  static const redis::script s(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[2], 'dead_lettered', 1)
if ARGV[1] == '1' then return redis.call('HINCRBY', KEYS[2], 'consecutive_dead_lettered', 1) end
return tonumber(redis.call('HGET', KEYS[2], 'consecutive_dead_lettered') or '0')
)lua");
  return s;
}

// Only writes when there is something to reset, so the common case (no recent failures) is a
// read, and a deleted endpoint's counters are not recreated.
const redis::script& record_success_script() {
  static const redis::script s(R"lua(
local v = redis.call('HMGET', KEYS[1], 'consecutive_failures', 'failing_since',
                     'consecutive_dead_lettered')
if (v[1] and v[1] ~= '0') or v[2] or (v[3] and v[3] ~= '0') then
  redis.call('HSET', KEYS[1], 'consecutive_failures', 0, 'consecutive_dead_lettered', 0)
  redis.call('HDEL', KEYS[1], 'failing_since')
end
return 0
)lua");
  return s;
}

// The delivery client's own parser decides (http/url.hpp), so the CLI and the API accept
// exactly the URLs that can be delivered to.
status validate_url(std::string_view url) {
  if (auto u = http::parse_url(url); !u) {
    return fail(error_kind::permanent, "url: " + u.error().message);
  }
  return {};
}

status validate_events(const std::vector<std::string>& events) {
  if (events.empty()) return fail(error_kind::permanent, "events must not be empty");
  if (events.size() > max_events) return fail(error_kind::permanent, "events: more than 64 entries");
  for (const auto& e : events) {
    if (!tresse::events::is_valid_subscription(e)) {
      return fail(error_kind::permanent, "events: unknown event type '" + e + "'");
    }
  }
  return {};
}

status validate_description(std::string_view d) {
  if (d.size() > max_description_length) {
    return fail(error_kind::permanent, "description is longer than 512 bytes");
  }
  return {};
}

// The delivery options of a spec or an update (registry/endpoint_options.hpp).
status validate_options(const header_list* headers, const endpoint_auth* auth,
                        const std::uint32_t* timeout_seconds, const client_certificate* cert) {
  if (cert && !cert->empty() && !cert->identity) {
    // Made by client_certificate_from_json, which parses and checks it.
    return fail(error_kind::permanent, "field 'tls_client_certificate' was not parsed");
  }
  if (headers) {
    if (auto s = validate_headers(*headers); !s) return s;
  }
  if (auth) {
    if (auto s = validate_auth(*auth); !s) return s;
  }
  if (timeout_seconds) return validate_timeout(*timeout_seconds);
  return {};
}

template <class T>
std::unexpected<error> propagate(const result<T>& r) {
  return std::unexpected(r.error());
}

// Generates the keys the scheme signs with that the endpoint lacks: a whsec_ secret for v1, an
// Ed25519 key pair for v1a. Create, a change of scheme and rotation (which retires the current
// ones first) all come here, so a key of either kind is made in one place.
status add_missing_keys(endpoint& ep) {
  if (signs_v1(ep.scheme) && ep.secret.empty()) {
    ep.secret = tresse::receiver::generate_hmac_secret();
    if (ep.secret.empty()) return fail(error_kind::transient, "the random generator failed");
  }
  if (signs_v1a(ep.scheme) && ep.signing_key.empty()) {
    auto pair = tresse::receiver::generate_ed25519_keypair();
    if (pair.secret_key.empty()) return fail(error_kind::transient, "the random generator failed");
    ep.signing_key = std::move(pair.secret_key);
    ep.public_key = std::move(pair.public_key);
  }
  return {};
}

}  // namespace

struct store::parse_cache {
  static constexpr std::size_t max_entries = 10000;
  std::mutex mutex;
  std::unordered_map<std::string, std::pair<std::string, endpoint>> by_id;  // id -> (raw, parsed)
};

store::store(std::shared_ptr<redis::client> redis, store_options opts)
    : redis_(std::move(redis)), opts_(std::move(opts)), parsed_(std::make_shared<parse_cache>()) {
  if (!opts_.now) opts_.now = [] { return clock::now(); };
  if (!opts_.encryption) {
    log::warn("endpoint secrets are stored unencrypted; set an encryption key");
  }
}

result<std::string> store::serialize(const endpoint& ep) const {
  json secrets = {{"current", ep.secret}, {"previous", json::array()}};
  if (!ep.signing_key.empty()) secrets["signing_key"] = ep.signing_key;
  if (ep.auth.type != endpoint_auth::kind::none) secrets["auth"] = auth_to_json(ep.auth);
  if (!ep.tls_client_certificate.empty()) {
    secrets["client_certificate"] = client_certificate_to_json(ep.tls_client_certificate);
  }
  for (const auto& p : ep.previous_secrets) {
    secrets["previous"].push_back({{"secret", p.secret}, {"expires_at", to_unix_ms(p.expires_at)}});
  }
  json j = {
      {"id", ep.id},
      {"business_id", ep.business_id},
      {"url", ep.url},
      {"events", ep.events},
      {"livemode", ep.livemode},
      {"enabled", ep.enabled},
      {"disabled_reason", ep.disabled_reason},
      {"description", ep.description},
      {"rate_limit_per_second", ep.rate_limit_per_second},
      {"headers", headers_to_json(ep.headers)},
      {"timeout_seconds", ep.timeout_seconds},
      {"ordering", to_string(ep.order)},
      {"signature_scheme", to_string(ep.scheme)},
      {"created_at", to_unix_ms(ep.created_at)},
      {"updated_at", to_unix_ms(ep.updated_at)},
  };
  if (opts_.encryption) {
    std::string plain = secrets.dump();
    auto sealed = opts_.encryption->seal(plain, ep.id);
    OPENSSL_cleanse(plain.data(), plain.size());
    if (!sealed) return propagate(sealed);
    j["secrets_sealed"] = *sealed;
  } else {
    j["secrets"] = std::move(secrets);
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

result<endpoint> store::parse(std::string_view id, std::string_view raw) const {
  {
    std::lock_guard lock(parsed_->mutex);
    auto it = parsed_->by_id.find(std::string(id));
    if (it != parsed_->by_id.end() && it->second.first == raw) return it->second.second;
  }
  auto ep = parse_record(id, raw);
  if (ep) {
    std::lock_guard lock(parsed_->mutex);
    if (parsed_->by_id.size() >= parse_cache::max_entries) parsed_->by_id.clear();
    parsed_->by_id[std::string(id)] = {std::string(raw), *ep};
  }
  return ep;
}

result<endpoint> store::parse_record(std::string_view id, std::string_view raw) const {
  json j = json::parse(raw, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return fail(error_kind::permanent, "endpoint " + std::string(id) + ": corrupt record");
  }
  try {
    endpoint ep;
    ep.id = j.at("id").get<std::string>();
    ep.business_id = j.at("business_id").get<std::string>();
    ep.url = j.at("url").get<std::string>();
    ep.events = j.at("events").get<std::vector<std::string>>();
    ep.livemode = j.at("livemode").get<bool>();
    ep.enabled = j.at("enabled").get<bool>();
    ep.disabled_reason = j.value("disabled_reason", "");
    ep.description = j.value("description", "");
    ep.rate_limit_per_second = j.value("rate_limit_per_second", 0u);
    ep.timeout_seconds = j.value("timeout_seconds", 0u);
    if (auto it = j.find("headers"); it != j.end()) {
      auto h = headers_from_json(*it);
      if (!h) return fail(error_kind::permanent, "endpoint " + ep.id + ": " + h.error().message);
      ep.headers = std::move(*h);
    }
    // Records from before the option have none: "none".
    ep.order = parse_ordering(j.value("ordering", "none")).value_or(ordering::none);
    ep.scheme =
        parse_signature_scheme(j.value("signature_scheme", "v1")).value_or(signature_scheme::v1);
    ep.created_at = from_unix_ms(j.at("created_at").get<std::int64_t>());
    ep.updated_at = from_unix_ms(j.at("updated_at").get<std::int64_t>());
    json secrets;
    if (j.contains("secrets_sealed")) {
      if (!opts_.encryption) {
        return fail(error_kind::permanent, "endpoint " + ep.id +
                                               ": secrets are encrypted and no encryption key "
                                               "is configured");
      }
      auto plain = opts_.encryption->open(j.at("secrets_sealed").get<std::string>(), ep.id);
      if (!plain) {
        return fail(error_kind::permanent, "endpoint " + ep.id + ": " + plain.error().message);
      }
      secrets = json::parse(*plain, nullptr, false);
      OPENSSL_cleanse(plain->data(), plain->size());
    } else {
      // Records written before an encryption key was configured stay readable.
      secrets = j.at("secrets");
    }
    ep.secret = secrets.at("current").get<std::string>();
    if (auto it = secrets.find("signing_key"); it != secrets.end()) {
      std::error_code ec;
      const auto k = tresse::receiver::key::parse(it->get<std::string>(), ec);
      if (ec || k.kind() != tresse::receiver::key_kind::ed25519_secret) {
        return fail(error_kind::permanent, "endpoint " + ep.id + ": corrupt signing key");
      }
      ep.signing_key = it->get<std::string>();
      ep.public_key = k.public_key();
    }
    for (const auto& p : secrets.at("previous")) {
      ep.previous_secrets.push_back({p.at("secret").get<std::string>(),
                                     from_unix_ms(p.at("expires_at").get<std::int64_t>())});
    }
    if (auto it = secrets.find("auth"); it != secrets.end()) {
      auto a = auth_from_json(*it);
      if (!a) return fail(error_kind::permanent, "endpoint " + ep.id + ": " + a.error().message);
      ep.auth = std::move(*a);
    }
    if (auto it = secrets.find("client_certificate"); it != secrets.end()) {
      auto c = client_certificate_from_json(*it);
      if (!c) return fail(error_kind::permanent, "endpoint " + ep.id + ": " + c.error().message);
      ep.tls_client_certificate = std::move(*c);
    }
    return ep;
  } catch (const json::exception& e) {
    return fail(error_kind::permanent,
                "endpoint " + std::string(id) + ": corrupt record (" + e.what() + ")");
  }
}

std::vector<std::string> store::counters_command(std::string_view id) {
  return {"HMGET", keys::endpoint_stats(id), "failure_count", "consecutive_failures",
          "dead_lettered"};
}

// An HMGET of failure_count, consecutive_failures, dead_lettered (absent fields are 0).
void store::apply_counters(endpoint& ep, const redis::reply& hmget) {
  auto num = [](const redis::reply& x) -> std::int64_t {
    return x.type == redis::reply::kind::string ? std::strtoll(x.str.c_str(), nullptr, 10) : 0;
  };
  const auto& f = hmget.elements;
  if (f.size() != 3) return;
  ep.failure_count = num(f[0]);
  ep.consecutive_failures = num(f[1]);
  ep.dead_lettered = num(f[2]);
}

namespace {

using opt_endpoint = std::optional<endpoint>;

}  // namespace

redis::request store::load_request(std::string_view id) {
  redis::request r;
  r.commands.add({"GET", keys::endpoint(id)}).add(counters_command(id));
  return r;
}

result<std::optional<std::pair<endpoint, std::string>>> store::loaded(std::string_view id,
                                                                      redis::replies r) const {
  if (auto s = redis::status_of(r); !s) return std::unexpected(s.error());
  if (r->size() != 2) return fail(error_kind::transient, "redis: unexpected reply to a read");
  redis::reply& record = (*r)[0];
  if (record.is_nil()) return std::nullopt;
  auto ep = parse(id, record.str);
  if (!ep) return propagate(ep);
  apply_counters(*ep, (*r)[1]);
  return std::make_pair(std::move(*ep), std::move(record.str));
}

redis::operation<endpoint> store::create_op(const endpoint_spec& spec) const {
  using op = redis::operation<endpoint>;
  if (!tresse::events::is_valid_id(spec.business_id)) {
    return op::done(fail(error_kind::permanent, "business id must match [A-Za-z0-9_-]{1,128}"));
  }
  if (auto s = validate_url(spec.url); !s) return op::done(std::unexpected(s.error()));
  if (auto s = validate_events(spec.events); !s) return op::done(std::unexpected(s.error()));
  if (auto s = validate_description(spec.description); !s) {
    return op::done(std::unexpected(s.error()));
  }
  if (auto s = validate_options(&spec.headers, &spec.auth, &spec.timeout_seconds,
                                &spec.tls_client_certificate);
      !s) {
    return op::done(std::unexpected(s.error()));
  }

  auto now = opts_.now();
  endpoint ep;
  ep.id = new_endpoint_id(now);
  ep.business_id = spec.business_id;
  ep.url = spec.url;
  ep.events = spec.events;
  ep.livemode = spec.livemode;
  ep.description = spec.description;
  ep.rate_limit_per_second = spec.rate_limit_per_second;
  ep.order = spec.order;
  ep.enabled = spec.enabled;
  ep.headers = spec.headers;
  ep.auth = spec.auth;
  ep.tls_client_certificate = spec.tls_client_certificate;
  ep.timeout_seconds = spec.timeout_seconds;
  ep.scheme = spec.scheme;
  if (auto s = add_missing_keys(ep); !s) return op::done(std::unexpected(s.error()));
  ep.created_at = ep.updated_at = now;
  auto raw = serialize(ep);
  if (!raw) return op::done(propagate(raw));
  // In order, each step once the one before is acknowledged: the record, the indexes (so that
  // an index never names a record not yet written), the version (so that a cache reading it
  // finds both). A crash between steps leaves a record no index names, which nothing reads.
  enum class step { record, indexes, version };
  redis::request record;
  record.commands.add({"SET", keys::endpoint(ep.id), *raw, "NX"});
  return op::one(std::move(record), [ep, at = step::record](
                                        op& o, redis::replies r) mutable
                                        -> std::optional<result<endpoint>> {
    if (at == step::version) {
      // Written and indexed already: a failed bump delays caches until their full refresh
      // (registry/cache.hpp), it does not undo the endpoint.
      if (auto s = redis::status_of(r); !s) {
        log::warn("endpoint created, version not bumped",
                  {{"endpoint", ep.id}, {"error", s.error().message}});
      }
      return ep;
    }
    if (auto s = redis::status_of(r); !s) return std::unexpected(s.error());
    switch (at) {
      case step::record:
        if (r->front().is_nil()) {
          return fail(error_kind::transient, "endpoint id collision; try again");
        }
        o.next = {};
        o.next.commands.add({"ZADD", keys::business_endpoints(ep.business_id), "0", ep.id})
            .add({"ZADD", keys::endpoints_all, "0", ep.id});
        at = step::indexes;
        return std::nullopt;
      case step::indexes:
        o.next = {};
        o.next.commands = bump_version_commands();
        at = step::version;
        return std::nullopt;
      case step::version:
        break;
    }
    return ep;
  });
}

result<endpoint> store::create(const endpoint_spec& spec) {
  auto op = create_op(spec);
  return redis::run(*redis_, op);
}

redis::operation<std::optional<endpoint>> store::get_op(std::string_view id) const {
  using op = redis::operation<opt_endpoint>;
  return op::one(
      load_request(id),
      [this, id = std::string(id)](op&, redis::replies r) -> std::optional<result<opt_endpoint>> {
        auto l = loaded(id, std::move(r));
        if (!l) return propagate(l);
        if (!*l) return result<opt_endpoint>(std::nullopt);
        return result<opt_endpoint>(std::move((*l)->first));
      });
}

result<std::optional<endpoint>> store::get(std::string_view id) {
  auto op = get_op(id);
  return redis::run(*redis_, op);
}

redis::operation<std::optional<endpoint>> store::modify_op(
    std::string_view id, std::function<status(endpoint&)> change) const {
  using op = redis::operation<opt_endpoint>;
  // Read (record and counters), then compare-and-set; again when another writer changed the
  // record meanwhile, a handful of times.
  struct state {
    std::string id;
    std::function<status(endpoint&)> change;
    int attempts = 0;
    enum class step { load, write, version } at = step::load;
    endpoint ep;
  };
  auto st = std::make_shared<state>(state{std::string(id), std::move(change)});
  return op::one(
      load_request(id), [this, st](op& o, redis::replies r) -> std::optional<result<opt_endpoint>> {
        if (st->at == state::step::version) {
          // Written already: a failed bump delays caches until their full refresh
          // (registry/cache.hpp), it does not undo the change.
          if (auto s = redis::status_of(r); !s) {
            log::warn("endpoint changed, version not bumped",
                      {{"endpoint", st->id}, {"error", s.error().message}});
          }
          return result<opt_endpoint>(std::move(st->ep));
        }
        if (st->at == state::step::write) {
          if (!r) return propagate(r);
          if (r->front().integer == 1) {
            o.next = {};
            o.next.commands = bump_version_commands();
            st->at = state::step::version;
            return std::nullopt;
          }
          if (++st->attempts == 16) {
            return fail(error_kind::transient, "endpoint " + st->id + " is changing too fast");
          }
          st->at = state::step::load;
          o.next = load_request(st->id);
          return std::nullopt;
        }
        auto l = loaded(st->id, std::move(r));
        if (!l) return propagate(l);
        if (!*l) return result<opt_endpoint>(std::nullopt);
        auto& [ep, old_raw] = **l;
        if (auto s = st->change(ep); !s) return std::unexpected(s.error());
        ep.updated_at = opts_.now();
        auto raw = serialize(ep);
        if (!raw) return propagate(raw);
        o.next = {&compare_and_set_script(),
                  {keys::endpoint(st->id)},
                  {std::move(old_raw), std::move(*raw)},
                  {}};
        st->ep = std::move(ep);
        st->at = state::step::write;
        return std::nullopt;
      });
}

redis::operation<std::optional<endpoint>> store::update_op(std::string_view id,
                                                           const endpoint_update& changes) const {
  using op = redis::operation<opt_endpoint>;
  if (changes.url) {
    if (auto s = validate_url(*changes.url); !s) return op::done(std::unexpected(s.error()));
  }
  if (changes.events) {
    if (auto s = validate_events(*changes.events); !s) return op::done(std::unexpected(s.error()));
  }
  if (changes.description) {
    if (auto s = validate_description(*changes.description); !s) {
      return op::done(std::unexpected(s.error()));
    }
  }
  if (auto s = validate_options(changes.headers ? &*changes.headers : nullptr,
                                changes.auth ? &*changes.auth : nullptr,
                                changes.timeout_seconds ? &*changes.timeout_seconds : nullptr,
                                changes.tls_client_certificate ? &*changes.tls_client_certificate
                                                               : nullptr);
      !s) {
    return op::done(std::unexpected(s.error()));
  }
  return modify_op(id, [changes](endpoint& ep) -> status {
    if (changes.url) ep.url = *changes.url;
    if (changes.headers) ep.headers = *changes.headers;
    if (changes.auth) ep.auth = *changes.auth;
    if (changes.tls_client_certificate) ep.tls_client_certificate = *changes.tls_client_certificate;
    if (changes.timeout_seconds) ep.timeout_seconds = *changes.timeout_seconds;
    if (changes.events) ep.events = *changes.events;
    if (changes.description) ep.description = *changes.description;
    if (changes.rate_limit_per_second) ep.rate_limit_per_second = *changes.rate_limit_per_second;
    if (changes.order) ep.order = *changes.order;
    if (changes.scheme) {
      ep.scheme = *changes.scheme;
      if (auto s = add_missing_keys(ep); !s) return s;
    }
    if (changes.enabled) {
      ep.enabled = *changes.enabled;
      if (ep.enabled) ep.disabled_reason.clear();
    }
    return {};
  });
}

result<std::optional<endpoint>> store::update(std::string_view id, const endpoint_update& changes) {
  auto op = update_op(id, changes);
  return redis::run(*redis_, op);
}

redis::operation<bool> store::remove_op(std::string_view id) const {
  using op = redis::operation<bool>;
  // Read the record (for its business); unindex it, so that no index names a deleted record;
  // delete the record and its counters and bump the version (after the indexes: a cache that
  // reads the new version lists without it); then its ordered queues, a bounded batch per round
  // trip (delivery/ordered_queue.hpp). A crash after the first write leaves a record no index
  // names, which nothing lists; deleting it again finishes the job.
  enum class step { load, unindex, remove, purge };
  return op::one(
      load_request(id),
      [this, id = std::string(id), at = step::load](
          op& o, redis::replies r) mutable -> std::optional<result<bool>> {
        switch (at) {
          case step::load: {
            auto l = loaded(id, std::move(r));
            if (!l) return propagate(l);
            if (!*l) return false;
            o.next = {};
            o.next.commands
                .add({"ZREM", keys::business_endpoints((*l)->first.business_id), id})
                .add({"ZREM", keys::endpoints_all, id});
            at = step::unindex;
            return std::nullopt;
          }
          case step::unindex:
            if (auto s = redis::status_of(r); !s) return std::unexpected(s.error());
            o.next = {};
            o.next.commands.add({"DEL", keys::endpoint(id)})
                .add({"DEL", keys::endpoint_stats(id)})
                .append(bump_version_commands());
            at = step::remove;
            return std::nullopt;
          case step::remove:
            if (auto s = redis::status_of(r); !s) return std::unexpected(s.error());
            if (r->front().integer != 1) return false;  // a concurrent remove won
            o.next = ordered::purge_call(id, opts_.retry_shards);
            at = step::purge;
            return std::nullopt;
          case step::purge:
            // Deleted already: queues left by an outage expire with their TTL.
            if (!r) {
              log::warn("deleted endpoint's ordered queues not purged",
                        {{"endpoint", id}, {"error", r.error().message}});
              return true;
            }
            if (r->front().integer == 0) return true;
            return std::nullopt;  // o.next as it was: the next batch
        }
        return true;
      });
}

result<bool> store::remove(std::string_view id) {
  auto op = remove_op(id);
  return redis::run(*redis_, op);
}

redis::operation<std::optional<endpoint>> store::rotate_secret_op(
    std::string_view id, std::chrono::seconds expires_in) const {
  return modify_op(id, [this, expires_in](endpoint& ep) -> status {
    auto now = opts_.now();
    std::erase_if(ep.previous_secrets,
                  [&](const previous_secret& p) { return p.expires_at <= now; });
    // Each current key the scheme signs with keeps signing until it expires; then new ones.
    auto retire = [&](std::string& current) {
      if (!current.empty() && expires_in.count() > 0) {
        ep.previous_secrets.push_back({current, now + expires_in});
      }
      current.clear();
    };
    if (signs_v1(ep.scheme)) retire(ep.secret);
    if (signs_v1a(ep.scheme)) {
      retire(ep.signing_key);
      ep.public_key.clear();
    }
    return add_missing_keys(ep);
  });
}

result<std::optional<endpoint>> store::rotate_secret(std::string_view id,
                                                     std::chrono::seconds expires_in) {
  auto op = rotate_secret_op(id, expires_in);
  return redis::run(*redis_, op);
}

result<bool> store::disable(std::string_view id, std::string_view reason) {
  auto op = modify_op(id, [reason = std::string(reason)](endpoint& ep) -> status {
    ep.enabled = false;
    ep.disabled_reason = reason;
    return {};
  });
  auto r = redis::run(*redis_, op);
  if (!r) return propagate(r);
  return r->has_value();
}

result<bool> store::disable_if_enabled(std::string_view id, std::string_view reason) {
  bool changed = false;
  auto op = modify_op(id, [&](endpoint& ep) -> status {
    // Runs again on every compare-and-set retry: the last run is the one written.
    changed = ep.enabled;
    if (ep.enabled) {
      ep.enabled = false;
      ep.disabled_reason = std::string(reason);
    }
    return {};
  });
  auto r = redis::run(*redis_, op);
  if (!r) return propagate(r);
  return r->has_value() && changed;
}

redis::operation<endpoint_page> store::list_op(std::string_view business_id,
                                               const page_request& req) const {
  using op = redis::operation<endpoint_page>;
  // The ids from the business's index, then their records and counters by key (each under its
  // endpoint's tag, so a cluster client sends them to their nodes: no script reads across
  // slots). An id whose record is gone (deleted meanwhile) is skipped.
  const std::size_t limit = std::clamp<std::size_t>(req.limit, 1, 100);
  redis::request ids;
  ids.commands.add({"ZRANGEBYLEX", keys::business_endpoints(business_id),
                    req.cursor.empty() ? "-" : "(" + req.cursor, "+", "LIMIT", "0",
                    std::to_string(limit + 1)});
  struct state {
    std::string business;
    std::vector<std::string> ids;
    bool reading = false;
  };
  auto st = std::make_shared<state>(state{std::string(business_id)});
  return op::one(std::move(ids), [this, st, limit](op& o, redis::replies r)
                                     -> std::optional<result<endpoint_page>> {
    if (auto s = redis::status_of(r); !s) return std::unexpected(s.error());
    if (!st->reading) {
      for (auto& id : r->front().elements) st->ids.push_back(std::move(id.str));
      if (st->ids.empty()) return endpoint_page{};
      o.next = {};
      for (std::size_t i = 0; i < st->ids.size() && i < limit; ++i) {
        o.next.commands.add({"GET", keys::endpoint(st->ids[i])}).add(counters_command(st->ids[i]));
      }
      st->reading = true;
      return std::nullopt;
    }
    endpoint_page page;
    page.has_more = st->ids.size() > limit;
    const std::size_t n = std::min(st->ids.size(), limit);
    if (page.has_more) page.next_cursor = st->ids[n - 1];
    if (r->size() != 2 * n) return fail(error_kind::transient, "redis: unexpected reply to a page");
    for (std::size_t i = 0; i < n; ++i) {
      const auto& record = (*r)[2 * i];
      if (record.is_nil()) continue;  // deleted after the id was listed
      auto ep = parse(st->ids[i], record.str);
      if (!ep) return propagate(ep);
      if (ep->business_id != st->business) continue;  // not this business's: never shown
      apply_counters(*ep, (*r)[2 * i + 1]);
      page.data.push_back(std::move(*ep));
    }
    return page;
  });
}

result<endpoint_page> store::list(std::string_view business_id, const page_request& req) {
  auto op = list_op(business_id, req);
  return redis::run(*redis_, op);
}

result<std::vector<endpoint>> store::list_all() {
  auto ids = redis_->command({"ZRANGE", keys::endpoints_all, "0", "-1"});
  if (!ids) return propagate(ids);
  std::vector<endpoint> out;
  const auto& members = ids->elements;
  for (std::size_t begin = 0; begin < members.size(); begin += read_batch) {
    std::size_t end = std::min(members.size(), begin + read_batch);
    // GETs, not an MGET: the records are in different slots (a cluster client splits a
    // pipeline by slot, and refuses an MGET across them).
    redis::command_list gets;
    for (std::size_t i = begin; i < end; ++i) gets.add({"GET", keys::endpoint(members[i].str)});
    auto values = redis_->pipeline(gets);
    if (auto s = redis::status_of(values); !s) return std::unexpected(s.error());
    for (std::size_t i = begin; i < end && i - begin < values->size(); ++i) {
      const auto& v = (*values)[i - begin];
      if (v.is_nil()) continue;
      auto ep = parse(members[i].str, v.str);
      if (!ep) {
        log::error("skipping unreadable endpoint",
                   {{"endpoint", members[i].str}, {"error", ep.error().message}});
        continue;
      }
      out.push_back(std::move(*ep));
    }
  }
  return out;
}

std::vector<std::string> store::version_command() {
  return {"GET", std::string(keys::endpoints_version)};
}

std::int64_t store::version_of(const redis::reply& get) {
  return get.is_nil() ? 0 : std::strtoll(get.str.c_str(), nullptr, 10);
}

redis::operation<std::int64_t> store::version_op() const {
  using op = redis::operation<std::int64_t>;
  return op::one(redis::single_command(version_command()),
                 [](op&, redis::replies r) -> std::optional<result<std::int64_t>> {
                   auto v = redis::single_reply(std::move(r));
                   if (!v) return propagate(v);
                   return version_of(*v);
                 });
}

result<std::int64_t> store::version() {
  auto op = version_op();
  return redis::run(*redis_, op);
}

result<std::int64_t> store::record_failure(std::string_view id) {
  auto r = record_failure_streak(id);
  if (!r) return std::unexpected(r.error());
  return r->consecutive_failures;
}

redis::request store::record_failure_call(std::string_view id) const {
  return {&record_failure_script(),
          {keys::endpoint(id), keys::endpoint_stats(id)},
          {std::to_string(to_unix_ms(opts_.now()))},
          {}};
}

failure_streak store::failure_streak_from_reply(const redis::reply& r) {
  failure_streak out;
  if (r.elements.size() == 2) {
    out.consecutive_failures = r.elements[0].integer;
    if (r.elements[1].integer > 0) out.failing_since = from_unix_ms(r.elements[1].integer);
  }
  return out;
}

redis::request store::record_dead_letter_call(std::string_view id, bool exhausted) {
  return {&record_dead_letter_script(),
          {keys::endpoint(id), keys::endpoint_stats(id)},
          {exhausted ? "1" : "0"},
          {}};
}

redis::request store::record_success_call(std::string_view id) {
  return {&record_success_script(), {keys::endpoint_stats(id)}, {}, {}};
}

result<failure_streak> store::record_failure_streak(std::string_view id) {
  auto r = redis::single_reply(redis::run(*redis_, record_failure_call(id)));
  if (!r) return propagate(r);
  return failure_streak_from_reply(*r);
}

result<std::int64_t> store::record_dead_letter(std::string_view id, bool exhausted) {
  auto r = redis::single_reply(redis::run(*redis_, record_dead_letter_call(id, exhausted)));
  if (!r) return propagate(r);
  // Dead letters per hour, for the operators' view; a counter, best effort.
  const auto hour = std::chrono::floor<std::chrono::hours>(opts_.now().time_since_epoch()).count();
  const std::string per_hour = keys::dead_letters_hour(hour);
  (void)redis_->pipeline_ok({{"INCR", per_hour}, {"EXPIRE", per_hour, "172800"}});
  return r->integer;
}

status store::record_success(std::string_view id) {
  auto r = redis::single_reply(redis::run(*redis_, record_success_call(id)));
  if (!r) return propagate(r);
  return {};
}

}  // namespace tresse::dispatcher::registry
