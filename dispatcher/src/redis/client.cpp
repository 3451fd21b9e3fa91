#include "redis/client.hpp"

#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <sys/time.h>

#include <array>
#include <charconv>
#include <optional>
#include <utility>

#include "redis/cluster_client.hpp"
#include "redis/sentinel.hpp"
#include "tresse/common/percent_encoding.hpp"

namespace tresse::dispatcher::redis {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

struct reply_deleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

// Every hiredis failure is translated here. Context errors mean the connection is unusable
// (I/O, EOF, timeout, protocol): transient, and the caller drops the connection. Error
// replies are Redis refusing the command: permanent unless Redis says "not now".
error translate(const redisContext* c, std::string_view during) {
  std::string what = c && c->err ? std::string(c->errstr) : std::string("no connection");
  return error{error_kind::transient, "redis " + std::string(during) + ": " + what};
}

std::string hex_sha1(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha1(), nullptr);
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(digits[md[i] >> 4]);
    out.push_back(digits[md[i] & 0xf]);
  }
  return out;
}

}  // namespace

reply copy_reply(const redisReply* r) {
  reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = reply::kind::string;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = reply::kind::status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = reply::kind::error;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = reply::kind::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = reply::kind::array;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(copy_reply(r->element[i]));
      break;
    default:
      out.type = reply::kind::nil;
  }
  return out;
}

error error_of(const reply& r) {
  // OOM: a full Redis under noeviction (README "Redis") refuses writes until memory is freed or
  // maxmemory raised: the API answers 503, the delivery path waits and retries.
  static constexpr std::string_view transient_prefixes[] = {
      "LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "READONLY", "CLUSTERDOWN", "NOREPLICAS", "OOM"};
  for (auto p : transient_prefixes) {
    if (r.str.starts_with(p)) return error{error_kind::transient, "redis: " + r.str};
  }
  return error{error_kind::permanent, "redis: " + r.str};
}

namespace {

error bad_url(std::string_view why) {
  return error{error_kind::permanent, "redis url: " + std::string(why)};
}

}  // namespace

result<address> parse_host_port(std::string_view authority, int default_port) {
  address a{std::string(), default_port};
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos)
      return std::unexpected(bad_url("unclosed '[' in the host"));
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) {
      return std::unexpected(bad_url("text after the IPv6 address"));
    }
    if (!after.empty()) port = after.substr(1);
    if (host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos) {
      return std::unexpected(bad_url("bad IPv6 address"));
    }
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return std::unexpected(bad_url("put an IPv6 host in brackets: redis://[::1]:6379"));
    }
  }
  if (!port.empty() || (authority.ends_with(':'))) {
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), a.port);
    if (ec != std::errc() || p != port.data() + port.size() || a.port <= 0 || a.port > 65535) {
      return std::unexpected(bad_url("bad port"));
    }
  }
  if (host.empty()) return std::unexpected(bad_url("missing host"));
  if (host.find_first_of("%@/?#, ") != std::string_view::npos) {
    return std::unexpected(bad_url("bad host"));
  }
  a.host = std::string(host);
  return a;
}

namespace {

status parse_db(std::string_view db, options& o) {
  if (db.empty()) return {};
  auto [p, ec] = std::from_chars(db.data(), db.data() + db.size(), o.db);
  if (ec != std::errc() || p != db.data() + db.size() || o.db < 0) {
    return std::unexpected(bad_url("bad database number"));
  }
  return {};
}

}  // namespace

// Messages name the part at fault, never the URL: it may hold a password.
result<options> parse_url(std::string_view url) {
  constexpr std::string_view plain_scheme = "redis://";
  constexpr std::string_view sentinel_scheme = "redis+sentinel://";
  constexpr std::string_view cluster_scheme = "redis+cluster://";
  if (url.starts_with("rediss://"))
    return std::unexpected(bad_url("rediss:// (TLS) is not supported"));
  const bool sentinel = url.starts_with(sentinel_scheme);
  const bool cluster = url.starts_with(cluster_scheme);
  if (!sentinel && !cluster && !url.starts_with(plain_scheme)) {
    return std::unexpected(
        bad_url("must start with redis://, redis+sentinel:// or redis+cluster://"));
  }
  options o;
  std::string_view rest = url.substr(sentinel  ? sentinel_scheme.size()
                                     : cluster ? cluster_scheme.size()
                                               : plain_scheme.size());
  // The path is after the first '/' that follows the user-info (a password may hold '/'
  // only percent-encoded, but an unencoded '@' in it still parses: the last '@' ends it).
  const auto at = rest.rfind('@');
  const auto slash = rest.find('/', at == std::string_view::npos ? 0 : at + 1);
  std::string_view authority = rest.substr(0, slash);
  std::string_view path =
      slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
  if (at != std::string_view::npos && at < authority.size()) {
    // [user]:password@ (user = an ACL user, AUTH user password) or password@ alone.
    const std::string_view userinfo = authority.substr(0, at);
    const auto colon = userinfo.find(':');
    auto user = tresse::percent_decode(colon == std::string_view::npos ? std::string_view{}
                                                                       : userinfo.substr(0, colon));
    auto password = tresse::percent_decode(
        colon == std::string_view::npos ? userinfo : userinfo.substr(colon + 1));
    if (!user || !password)
      return std::unexpected(bad_url("bad percent-encoding in the user or password"));
    o.user = std::move(*user);
    o.password = std::move(*password);
    authority.remove_prefix(at + 1);
  }
  if (!sentinel && !cluster) {
    if (auto s = parse_db(path, o); !s) return std::unexpected(s.error());
    auto a = parse_host_port(authority, o.port);
    if (!a) return std::unexpected(a.error());
    o.host = std::move(a->host);
    o.port = a->port;
    return o;
  }
  // A comma-separated list of sentinels or cluster seed nodes.
  std::vector<address> hosts;
  for (std::size_t pos = 0;;) {
    const auto comma = authority.find(',', pos);
    auto a = parse_host_port(authority.substr(pos, comma - pos), cluster ? o.port : 26379);
    if (!a) return std::unexpected(a.error());
    hosts.push_back(std::move(*a));
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  o.host.clear();  // the sentinels name the primary on every connect; a cluster its slots' owners
  o.port = 0;
  if (cluster) {
    // redis+cluster://node[,node...][/0]: a cluster has database 0 only.
    if (auto s = parse_db(path, o); !s) return std::unexpected(s.error());
    if (o.db != 0) return std::unexpected(bad_url("a Redis Cluster has database 0 only"));
    for (const auto& h : hosts) {
      const bool v6 = h.host.find(':') != std::string::npos;
      o.cluster_nodes.push_back((v6 ? "[" + h.host + "]" : h.host) + ":" +
                                std::to_string(h.port));
    }
    return o;
  }
  // redis+sentinel://sentinel[,sentinel...]/master-name[/db]
  o.sentinels = std::move(hosts);
  const auto name_end = path.find('/');
  const std::string_view name = path.substr(0, name_end);
  if (name.empty())
    return std::unexpected(
        bad_url("missing the master name: redis+sentinel://host:26379/mymaster"));
  if (name.find_first_of("%@?# ") != std::string_view::npos)
    return std::unexpected(bad_url("bad master name"));
  o.master_name = std::string(name);
  if (name_end != std::string_view::npos) {
    if (auto s = parse_db(path.substr(name_end + 1), o); !s) return std::unexpected(s.error());
  }
  return o;
}

std::vector<std::string_view> auth_argv(const options& o) {
  if (o.user.empty() && o.password.empty()) return {};
  if (o.user.empty()) return {"AUTH", o.password};
  return {"AUTH", o.user, o.password};
}

std::vector<std::string_view> views(const std::vector<std::string>& v) {
  return {v.begin(), v.end()};
}

script::script(std::string source) : source_(std::move(source)), sha1_(hex_sha1(source_)) {}

void connection::context_deleter::operator()(redisContext* c) const { redisFree(c); }

connection::connection(options opts) : opts_(std::move(opts)) {}
connection::~connection() = default;

status connection::ensure_connected() {
  if (ctx_) return {};
  auto server = server_address(opts_);  // with sentinels: asked again on every connect
  if (!server) return std::unexpected(server.error());
  context_ptr c(redisConnectWithTimeout(server->host.c_str(), server->port,
                                        to_timeval(opts_.connect_timeout)));
  if (!c) return std::unexpected(error{error_kind::transient, "redis connect: out of memory"});
  if (c->err) return std::unexpected(translate(c.get(), "connect"));
  if (redisSetTimeout(c.get(), to_timeval(opts_.command_timeout)) != REDIS_OK) {
    return std::unexpected(translate(c.get(), "connect"));
  }
  redisEnableKeepAlive(c.get());
  ctx_ = std::move(c);
  auto setup = [&](std::span<const std::string_view> argv) -> status {
    auto r = round_trip(argv);
    if (!r) return std::unexpected(r.error());
    if (r->type == reply::kind::error) {
      ctx_.reset();
      // A wrong password or db is configuration, not something a retry fixes.
      return std::unexpected(error{error_kind::fatal, "redis connect: " + r->str});
    }
    return {};
  };
  if (const auto auth = auth_argv(opts_); !auth.empty()) {
    if (auto s = setup(auth); !s) return s;
  }
  if (opts_.db != 0) {
    const std::string db = std::to_string(opts_.db);
    const std::array<std::string_view, 2> select{"SELECT", db};
    if (auto s = setup(select); !s) return s;
  }
  if (opts_.uses_sentinel()) {
    // The sentinels may not have caught up with a failover yet: only a primary will do.
    static constexpr std::array<std::string_view, 1> role_argv{"ROLE"};
    auto r = round_trip(role_argv);
    if (!r) return std::unexpected(r.error());
    auto got = parse_role(*r);
    if (!got || !got->primary) {
      ctx_.reset();
      return fail(error_kind::transient,
                  "redis connect: the server the sentinels named is not a "
                  "primary (yet); asking again");
    }
  }
  return {};
}

void connection::drop_if_demoted(const reply& r) {
  if (is_demoted(r)) ctx_.reset();
}

result<reply> connection::round_trip(std::span<const std::string_view> argv) {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  ptrs.reserve(argv.size());
  lens.reserve(argv.size());
  for (auto a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  reply_ptr r(static_cast<redisReply*>(
      redisCommandArgv(ctx_.get(), static_cast<int>(argv.size()), ptrs.data(), lens.data())));
  if (!r) {
    error e = translate(ctx_.get(), "command");
    ctx_.reset();  // hiredis contexts are unusable after an error; reconnect next time
    return std::unexpected(std::move(e));
  }
  return copy_reply(r.get());
}

result<reply> connection::command(std::span<const std::string_view> argv) {
  if (auto s = ensure_connected(); !s) return std::unexpected(s.error());
  auto r = round_trip(argv);
  if (r && r->type == reply::kind::error) {
    drop_if_demoted(*r);
    return std::unexpected(error_of(*r));
  }
  return r;
}

result<std::vector<reply>> connection::pipeline(const command_list& commands) {
  if (commands.empty()) return std::vector<reply>{};
  if (auto s = ensure_connected(); !s) return std::unexpected(s.error());
  // Already RESP: appended to hiredis's output buffer as it is, every command at once.
  const std::string_view resp = commands.resp();
  if (redisAppendFormattedCommand(ctx_.get(), resp.data(), resp.size()) != REDIS_OK) {
    error e = translate(ctx_.get(), "pipeline");
    ctx_.reset();
    return std::unexpected(std::move(e));
  }
  std::vector<reply> out;
  out.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_.get(), &raw) != REDIS_OK || raw == nullptr) {
      error e = translate(ctx_.get(), "pipeline");
      ctx_.reset();
      return std::unexpected(std::move(e));
    }
    reply_ptr r(static_cast<redisReply*>(raw));
    out.push_back(copy_reply(r.get()));
  }
  for (const auto& r : out) drop_if_demoted(r);
  return out;
}

result<reply> connection::eval(const script& s, std::span<const std::string_view> keys,
                               std::span<const std::string_view> args) {
  if (auto c = ensure_connected(); !c) return std::unexpected(c.error());
  std::string key_count;
  auto r = round_trip(s.call_argv(false, key_count, keys, args));
  if (r && r->type == reply::kind::error && script::missing(r->str)) {
    r = round_trip(s.call_argv(true, key_count, keys, args));
  }
  if (r && r->type == reply::kind::error) {
    drop_if_demoted(*r);
    return std::unexpected(error_of(*r));
  }
  return r;
}

// Borrows one connection for the lifetime of the lease and gives it back after.
class client::lease {
 public:
  lease(client* owner, std::unique_ptr<connection> c) : owner_(owner), conn_(std::move(c)) {}
  lease(lease&&) = default;
  ~lease() {
    if (!conn_) return;
    {
      std::lock_guard lock(owner_->mu_);
      owner_->idle_.push_back(std::move(conn_));
    }
    owner_->cv_.notify_one();
  }
  connection* operator->() { return conn_.get(); }

 private:
  client* owner_;
  std::unique_ptr<connection> conn_;
};

client::client(options opts) : opts_(std::move(opts)) {
  if (!opts_.cluster_nodes.empty()) {
    cluster_ = std::make_shared<cluster_client>(opts_);
    return;
  }
  std::size_t n = opts_.pool_size == 0 ? 1 : opts_.pool_size;
  for (std::size_t i = 0; i < n; ++i) idle_.push_back(std::make_unique<connection>(opts_));
}

client::~client() = default;

client::lease client::borrow() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !idle_.empty(); });
  auto c = std::move(idle_.back());
  idle_.pop_back();
  return lease(this, std::move(c));
}

result<reply> client::command(std::initializer_list<std::string_view> argv) {
  return command(std::span<const std::string_view>(argv.begin(), argv.size()));
}

result<reply> client::command(std::span<const std::string_view> argv) {
  if (cluster_) {
    command_list one;
    one.add(std::vector<std::string_view>(argv.begin(), argv.end()));
    auto r = cluster_->run(one);
    if (!r) return std::unexpected(r.error());
    if (r->front().type == reply::kind::error) return std::unexpected(error_of(r->front()));
    return std::move(r->front());
  }
  return borrow()->command(argv);
}

result<reply> client::command(const std::vector<std::string>& argv) {
  auto v = views(argv);
  return command(std::span<const std::string_view>(v));
}

result<std::vector<reply>> client::pipeline(const std::vector<std::vector<std::string>>& commands) {
  return pipeline(command_list::of(commands));
}

result<std::vector<reply>> client::pipeline(const command_list& commands) {
  if (cluster_) return cluster_->run(commands);
  return borrow()->pipeline(commands);
}

status client::pipeline_ok(const std::vector<std::vector<std::string>>& commands) {
  return pipeline_ok(command_list::of(commands));
}

status client::pipeline_ok(const command_list& commands) {
  auto r = pipeline(commands);
  if (!r) return std::unexpected(r.error());
  for (const auto& x : *r) {
    if (x.type == reply::kind::error) return fail(error_kind::permanent, "redis: " + x.str);
  }
  return {};
}

result<reply> client::eval(const script& s, std::initializer_list<std::string_view> keys,
                           std::initializer_list<std::string_view> args) {
  return eval_of(s, std::span<const std::string_view>(keys.begin(), keys.size()),
                 std::span<const std::string_view>(args.begin(), args.size()));
}

result<reply> client::eval(const script& s, const std::vector<std::string>& keys,
                           const std::vector<std::string>& args) {
  auto k = views(keys);
  auto a = views(args);
  return eval_of(s, k, a);
}

result<reply> client::eval_of(const script& s, std::span<const std::string_view> keys,
                              std::span<const std::string_view> args) {
  if (!cluster_) return borrow()->eval(s, keys, args);
  std::string key_count;
  auto argv = s.call_argv(false, key_count, keys, args);
  auto r = command(std::span<const std::string_view>(argv));
  if (!r && script::missing(r.error().message)) {
    argv = s.call_argv(true, key_count, keys, args);
    r = command(std::span<const std::string_view>(argv));
  }
  return r;
}

status client::ping() {
  auto r = command({"PING"});
  if (!r) return std::unexpected(r.error());
  if (r->str != "PONG") return fail(error_kind::transient, "redis ping: unexpected reply");
  return {};
}

}  // namespace tresse::dispatcher::redis
