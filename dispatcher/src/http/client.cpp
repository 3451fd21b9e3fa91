#include "http/client.hpp"

#include <poll.h>

#include <algorithm>
#include <array>
#include <boost/asio/write.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <cstring>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <type_traits>
#include <unordered_map>
#include <variant>

#include "http/client_identity.hpp"
#include "http/header_syntax.hpp"
#include "http/proxy.hpp"
#include "http/response_parser.hpp"
#include "http/retry_after.hpp"

namespace tresse::dispatcher::http {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using boost::system::error_code;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr int kMaxInterimResponses = 8;
// A pooled connection idle for less than this is reused without asking the kernel whether the
// peer closed it (a poll() per request under load). A peer closing that fast is rare, and is
// still safe: the request then fails before any response byte and goes once more on a fresh
// connection (post()).
constexpr auto kUncheckedIdle = std::chrono::milliseconds(20);
// A connection's receive buffer: what one read asks for, and how little room is too little.
constexpr std::size_t kReadSize = 4096;
constexpr std::size_t kMinReadRoom = 1024;

std::unexpected<failure> fail(failure_kind kind, std::string message, error_code code = {}) {
  return std::unexpected(failure{kind, std::move(message), code});
}

// The one place that turns a network error into a failure kind. `kind` is the step's own
// kind (connect, tls, protocol); timeouts (the watchdog cancelled the step: `expired`) and
// cancellation win over it.
failure classify(const error_code& ec, failure_kind kind, std::string_view what, bool expired) {
  if (expired) {
    return {failure_kind::timeout, std::string(what) + ": timed out", ec};
  }
  if (ec == asio::error::operation_aborted) {
    return {failure_kind::cancelled, std::string(what) + ": cancelled", ec};
  }
  if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
      ec == asio::error::no_memory || ec == std::errc::too_many_files_open_in_system) {
    return {failure_kind::local, std::string(what) + ": " + ec.message() + " (local)", ec};
  }
  return {kind, std::string(what) + ": " + ec.message(), ec};
}

// "host:port" with the port always, as CONNECT wants it.
std::string authority_of(const url& u) {
  const bool v6 = u.host.find(':') != std::string::npos;
  return (v6 ? "[" + u.host + "]" : u.host) + ":" + std::to_string(u.port);
}

std::string describe(const tcp::endpoint& ep) {
  return ep.address().is_v6() ? "[" + ep.address().to_string() + "]:" + std::to_string(ep.port())
                              : ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace

// The deadline of one post, watched by its client's watchdog: past `at`, the watchdog cancels
// what `socket` is doing and sets `expired`, which the post reports as a timeout. It lives in
// the post's frame, linked into the watchdog's list for as long as the post runs.
struct deadline_watch {
  deadline_watch(deadline_watchdog& dog, steady::time_point at);
  ~deadline_watch();
  deadline_watch(const deadline_watch&) = delete;
  deadline_watch& operator=(const deadline_watch&) = delete;

  deadline_watchdog& dog;
  tcp::socket* socket = nullptr;  // the connection the post is using, null between connections
  steady::time_point at;
  bool expired = false;
  deadline_watch* prev = nullptr;
  deadline_watch* next = nullptr;
};

// The deadlines of a client's posts, checked every `tick` by one timer while posts run:
// Beast's streams armed and cancelled a timer around every read and write. Runs on the
// client's io_context thread, like the posts, so it needs no lock.
class deadline_watchdog : public std::enable_shared_from_this<deadline_watchdog> {
 public:
  deadline_watchdog(asio::io_context& ioc, steady::duration tick) : timer_(ioc), tick_(tick) {}

  void link(deadline_watch* w) {
    w->next = head_;
    if (head_) head_->prev = w;
    head_ = w;
    arm();
  }
  void unlink(deadline_watch* w) {
    (w->prev ? w->prev->next : head_) = w->next;
    if (w->next) w->next->prev = w->prev;
  }
  void stop() { timer_.cancel(); }

 private:
  void arm() {
    if (armed_ || head_ == nullptr) return;
    armed_ = true;
    timer_.expires_after(tick_);
    timer_.async_wait([weak = weak_from_this()](error_code ec) {
      auto self = weak.lock();
      if (!self || ec) return;
      self->armed_ = false;
      self->check();
      self->arm();
    });
  }
  // An expired post is cancelled on every tick, so that an operation it starts after the
  // first cancel cannot outlive its deadline either.
  void check() {
    const auto now = steady::now();
    for (auto* w = head_; w != nullptr; w = w->next) {
      if (w->at > now) continue;
      w->expired = true;
      error_code ignored;
      if (w->socket) w->socket->cancel(ignored);
    }
  }

  deadline_watch* head_ = nullptr;
  asio::steady_timer timer_;
  steady::duration tick_;
  bool armed_ = false;
};

deadline_watch::deadline_watch(deadline_watchdog& d, steady::time_point deadline)
    : dog(d), at(deadline) {
  dog.link(this);
}
deadline_watch::~deadline_watch() { dog.unlink(this); }

namespace {

// What one request/response exchange on a connection produced.
struct exchange_result {
  std::optional<response> resp;
  failure error;
  bool response_started = false;  // some response byte arrived: the request was seen
  bool reusable = false;
};

// The request as it goes out in one write: the target's request line, Host and User-Agent,
// the header fields, Content-Length, and the body, none of them copied together.
using request_buffers = std::array<asio::const_buffer, 4>;

request_buffers skip(request_buffers buffers, std::size_t n) {
  for (auto& b : buffers) {
    const auto k = std::min(n, b.size());
    b += k;
    n -= k;
  }
  return buffers;
}

// Sends the request on `stream` (the TLS stream over `socket`, or `socket` itself) and reads
// the response into the connection's buffer `in`. Over plain TCP the request goes out in one
// non-blocking sendmsg when the socket takes it all, as it nearly always does: no asynchronous
// write and no completion to dispatch.
template <class Stream>
asio::awaitable<exchange_result> exchange(Stream& stream, tcp::socket& socket, std::string& in,
                                          const request_buffers& request_bytes,
                                          const client_options& options, deadline_watch& watch) {
  exchange_result out;
  error_code ec;
  std::size_t sent = 0;
  if constexpr (std::is_same_v<Stream, tcp::socket>) {
    sent = socket.write_some(request_bytes, ec);  // the socket is non-blocking
    if (ec == asio::error::would_block || ec == asio::error::try_again) ec = {};
  }
  if (!ec && sent < asio::buffer_size(request_bytes)) {
    const auto rest = skip(request_bytes, sent);
    auto [write_ec, written] = co_await asio::async_write(stream, rest, use_tuple);
    ec = write_ec;
  }
  if (ec || watch.expired) {
    out.error = classify(ec, failure_kind::protocol, "sending the request", watch.expired);
    co_return out;
  }

  // The head, skipping interim 1xx responses (101 is final: we never ask to upgrade), then
  // the body up to the cap. The parser consumes what it can; unconsumed bytes move to the
  // front of the buffer before it grows (bounded: the parser fails past max_response_header).
  if (in.size() < kReadSize) in.resize(kReadSize);
  std::size_t filled = 0;
  std::size_t parsed = 0;
  response_parser parser(options.max_response_header, options.max_response_body);
  int interim = 0;
  error_code read_ec;
  for (;;) {
    parsed += parser.parse(std::string_view(in.data() + parsed, filled - parsed));
    if (parser.interim()) {
      if (++interim > kMaxInterimResponses) {
        out.error = {failure_kind::protocol, "too many interim responses", {}};
        co_return out;
      }
      parser = response_parser(options.max_response_header, options.max_response_body);
      continue;
    }
    if (!parser.wants_more()) break;
    if (parsed == filled) parsed = filled = 0;
    if (in.size() - filled < kMinReadRoom) {
      std::memmove(in.data(), in.data() + parsed, filled - parsed);
      filled -= parsed;
      parsed = 0;
      if (in.size() - filled < kMinReadRoom) in.resize(in.size() * 2);
    }
    if (watch.expired) {
      read_ec = asio::error::timed_out;
      break;
    }
    auto [rec, n] = co_await stream.async_read_some(
        asio::buffer(in.data() + filled, in.size() - filled), use_tuple);
    filled += n;
    if (n > 0) out.response_started = true;
    if (rec == asio::error::eof || rec == ssl::error::stream_truncated) {
      parser.end_of_stream();
    } else if (rec) {
      read_ec = rec;
      break;
    }
  }

  if (!parser.head_complete()) {
    if (read_ec || watch.expired) {
      out.error = classify(read_ec, failure_kind::protocol, "reading the response", watch.expired);
    } else if (!out.response_started) {
      out.error = {failure_kind::protocol, "connection closed before a response", {}};
    } else {
      out.error = {failure_kind::protocol, parser.error(), {}};
    }
    co_return out;
  }
  // The status is in: the endpoint answered. A body that fails half-way (a read error, a
  // malformed chunk, the deadline) is only a shorter log line, not a failed attempt.
  out.reusable = parser.reusable() && !read_ec && !watch.expired && parsed == filled;
  response r = parser.take();
  if (auto v = r.header("retry-after"); !v.empty()) {
    r.retry_after = parse_retry_after(v, std::chrono::system_clock::now());
  }
  out.resp = std::move(r);
  co_return out;
}

}  // namespace

const char* to_string(failure_kind k) {
  switch (k) {
    case failure_kind::invalid_url:
      return "invalid_url";
    case failure_kind::invalid_request:
      return "invalid_request";
    case failure_kind::dns:
      return "dns";
    case failure_kind::blocked_address:
      return "blocked_address";
    case failure_kind::connect:
      return "connect";
    case failure_kind::local:
      return "local";
    case failure_kind::tls:
      return "tls";
    case failure_kind::timeout:
      return "timeout";
    case failure_kind::protocol:
      return "protocol";
    case failure_kind::cancelled:
      return "cancelled";
    case failure_kind::proxy:
      return "proxy";
  }
  return "unknown";
}

std::string_view response::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return {};
}

header_fields& header_fields::add(std::string_view name, std::string_view value) {
  if (!is_token(name) || !is_field_value(value)) {
    if (invalid_.empty()) invalid_ = name.empty() ? std::string("(empty name)") : std::string(name);
    return *this;
  }
  if (!client_owned(name)) append_field(name, value);
  return *this;
}

header_fields& header_fields::add(known name, std::string_view value) {
  if (!is_field_value(value)) {
    if (invalid_.empty()) invalid_ = std::string(name.name());
    return *this;
  }
  append_field(name.name(), value);
  return *this;
}

void header_fields::append_field(std::string_view name, std::string_view value) {
  // One write of "name: value\r\n" (four appends checked the capacity four times).
  const std::size_t old = wire_.size();
  const std::size_t bytes = name.size() + value.size() + 4;
  if (old + bytes > wire_.capacity()) wire_.reserve(std::max(old + bytes, 2 * wire_.capacity()));
  // The length written, not the callback's size: libstdc++ 12 passes the grown capacity there.
  wire_.resize_and_overwrite(old + bytes, [&](char* buf, std::size_t) {
    char* p = std::copy(name.begin(), name.end(), buf + old);
    *p++ = ':';
    *p++ = ' ';
    p = std::copy(value.begin(), value.end(), p);
    *p++ = '\r';
    *p++ = '\n';
    return static_cast<std::size_t>(p - buf);
  });
}

struct client::connection {
  explicit connection(asio::io_context& ioc) : socket(ioc) {}

  std::string origin;
  asio::ip::tcp::socket socket;  // the connection, unless moved into tls
  std::unique_ptr<ssl::stream<asio::ip::tcp::socket>> tls;
  std::string in;  // the receive buffer, kept with the connection for its next request
  steady::time_point idle_since;

  asio::ip::tcp::socket& tcp() { return tls ? tls->next_layer() : socket; }

  // An idle HTTP/1.1 connection has nothing to read: readable means the peer closed it
  // (EOF, TLS close_notify) or sent garbage; either way it must not carry a request.
  bool looks_alive() {
    pollfd p{tcp().native_handle(), POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  }
};

// Idle connections by origin, newest at the back. Shared with the sweep timer's handler,
// which holds it weakly so that destroying the client never races a queued handler.
struct client::pool : std::enable_shared_from_this<client::pool> {
  explicit pool(asio::io_context& ioc) : sweeper(ioc) {}

  std::mutex mu;
  std::unordered_map<std::string, std::deque<std::unique_ptr<connection>>> idle;
  std::size_t idle_count = 0;
  asio::steady_timer sweeper;
  bool sweeper_armed = false;

  std::unique_ptr<connection> take(const std::string& origin, steady::duration idle_timeout) {
    std::unique_ptr<connection> found;
    std::vector<std::unique_ptr<connection>> dead;  // closed outside the lock
    {
      std::lock_guard lock(mu);
      auto it = idle.find(origin);
      if (it == idle.end()) return nullptr;
      auto& q = it->second;
      const auto now = steady::now();
      while (!q.empty() && !found) {
        auto c = std::move(q.back());
        q.pop_back();
        --idle_count;
        const auto idle_for = now - c->idle_since;
        if (idle_for < idle_timeout && (idle_for < kUncheckedIdle || c->looks_alive())) {
          found = std::move(c);
        } else {
          dead.push_back(std::move(c));
        }
      }
      // An emptied queue stays for the next put (erasing it cost a deque's allocations per
      // attempt when every connection was busy); the sweep, always armed while the pool held a
      // connection, erases it if none comes.
    }
    return found;
  }

  void put(std::unique_ptr<connection> c, std::size_t max_per_origin,
           steady::duration idle_timeout) {
    std::unique_ptr<connection> evicted;
    std::lock_guard lock(mu);
    if (max_per_origin == 0) return;
    c->idle_since = steady::now();
    auto& q = idle[c->origin];
    q.push_back(std::move(c));
    ++idle_count;
    if (q.size() > max_per_origin) {
      evicted = std::move(q.front());
      q.pop_front();
      --idle_count;
    }
    arm_sweeper(idle_timeout);
  }

  // Closes connections idle for idle_timeout even when their origin is never used again.
  void arm_sweeper(steady::duration idle_timeout) {
    if (sweeper_armed || idle_count == 0) return;
    sweeper_armed = true;
    sweeper.expires_after(idle_timeout);
    sweeper.async_wait([weak = weak_from_this(), idle_timeout](error_code ec) {
      auto self = weak.lock();
      if (!self || ec) return;
      self->sweep(idle_timeout);
    });
  }

  void sweep(steady::duration idle_timeout) {
    std::vector<std::unique_ptr<connection>> dead;
    std::lock_guard lock(mu);
    sweeper_armed = false;
    const auto now = steady::now();
    for (auto it = idle.begin(); it != idle.end();) {
      auto& q = it->second;
      while (!q.empty() && now - q.front()->idle_since >= idle_timeout) {
        dead.push_back(std::move(q.front()));
        q.pop_front();
        --idle_count;
      }
      it = q.empty() ? idle.erase(it) : std::next(it);
    }
    arm_sweeper(idle_timeout);
  }

  std::size_t size() {
    std::lock_guard lock(mu);
    return idle_count;
  }
};

namespace {

address_guard make_guard(const client_options& o) {
  auto g = address_guard::create({o.allow_private_networks, o.allow_list});
  if (!g) throw std::invalid_argument("http client: " + g.error().message);
  return *std::move(g);
}

std::optional<proxy> make_proxy(const client_options& o) {
  if (o.proxy.empty()) return std::nullopt;
  auto p = proxy::parse(o.proxy, o.no_proxy);
  if (!p) throw std::invalid_argument("http client: " + p.error().message);
  return *std::move(p);
}

// Deadlines are checked this often: a tenth of the shortest timeout, within 5-100 ms.
steady::duration watchdog_tick(const client_options& o) {
  const auto shortest = std::min(o.connect_timeout, o.total_timeout);
  return std::clamp<steady::duration>(shortest / 10, std::chrono::milliseconds(5),
                                      std::chrono::milliseconds(100));
}

}  // namespace

std::shared_ptr<ssl::context> make_tls_context(const client_options& options) {
  auto tls = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
  error_code ec;
  tls->set_default_verify_paths(ec);  // a missing system store only matters if used
  if (!options.ca_file.empty()) {
    tls->load_verify_file(options.ca_file, ec);
    if (ec) {
      throw std::invalid_argument("http client: cannot load CA file " + options.ca_file + ": " +
                                  ec.message());
    }
  }
  tls->set_verify_mode(options.verify_tls ? ssl::verify_peer : ssl::verify_none);
  return tls;
}

client::client(asio::io_context& ioc, client_options options, std::shared_ptr<ssl::context> tls)
    : ioc_(ioc),
      options_(std::move(options)),
      guard_(make_guard(options_)),
      proxy_(make_proxy(options_)),
      tls_(tls ? std::move(tls) : make_tls_context(options_)),
      pool_(std::make_shared<pool>(ioc)),
      watchdog_(std::make_shared<deadline_watchdog>(ioc, watchdog_tick(options_))) {}

client::~client() {
  watchdog_->stop();
  std::lock_guard lock(pool_->mu);
  pool_->sweeper.cancel();
}

client_stats client::stats() const {
  return {opened_.load(), reused_.load(), stale_retries_.load(), pool_->size()};
}

namespace {

// The addresses of `host` (the literal itself for an IP), each once; dns, timeout or cancelled.
asio::awaitable<std::expected<std::vector<tcp::endpoint>, failure>> resolve(
    asio::io_context& ioc, const std::string& host, bool host_is_ip, std::uint16_t port,
    steady::time_point deadline) {
  using namespace asio::experimental::awaitable_operators;
  std::vector<tcp::endpoint> candidates;
  if (host_is_ip) {
    candidates.emplace_back(asio::ip::make_address(host), port);
    co_return candidates;
  }
  tcp::resolver resolver(ioc);
  asio::steady_timer timer(ioc, deadline);
  auto raced = co_await (resolver.async_resolve(host, std::to_string(port), use_tuple) ||
                         timer.async_wait(use_tuple));
  if (raced.index() == 1) co_return fail(failure_kind::timeout, "resolving " + host + ": timed out");
  auto& [ec, results] = std::get<0>(raced);
  if (ec == asio::error::operation_aborted) {
    co_return fail(failure_kind::cancelled, "resolving " + host + ": cancelled", ec);
  }
  if (ec) co_return fail(failure_kind::dns, "resolving " + host + ": " + ec.message(), ec);
  for (const auto& entry : results) {
    if (std::find(candidates.begin(), candidates.end(), entry.endpoint()) == candidates.end()) {
      candidates.push_back(entry.endpoint());
    }
  }
  if (candidates.empty()) co_return fail(failure_kind::dns, "resolving " + host + ": no address");
  co_return candidates;
}

// A failure on the way to the proxy is the proxy's (an instance-level fault), except
// cancellation and this process's own resource errors, which keep their kind.
failure as_proxy_failure(failure f, const proxy& p) {
  if (f.kind != failure_kind::cancelled && f.kind != failure_kind::local) {
    f.kind = failure_kind::proxy;
  }
  f.message = "proxy " + p.address() + ": " + f.message;
  return f;
}

}  // namespace

asio::awaitable<std::optional<failure>> client::open(connection& conn, const tcp::endpoint& endpoint,
                                                     steady::time_point deadline,
                                                     deadline_watch& watch) {
  watch.socket = &conn.socket;
  watch.at = std::min(deadline, steady::now() + options_.connect_timeout);
  watch.expired = false;
  auto [ec] = co_await conn.socket.async_connect(endpoint, use_tuple);
  if (ec || watch.expired) {
    watch.socket = nullptr;
    co_return classify(ec, failure_kind::connect, "connecting to " + describe(endpoint),
                       watch.expired);
  }
  opened_.fetch_add(1, std::memory_order_relaxed);
  conn.socket.set_option(tcp::no_delay(true), ec);
  watch.at = deadline;
  co_return std::nullopt;
}

asio::awaitable<std::optional<failure>> client::handshake(connection& conn, const target& to,
                                                          deadline_watch& watch) {
  const url& u = to.parsed;
  conn.tls = std::make_unique<ssl::stream<tcp::socket>>(std::move(conn.socket), *tls_);
  watch.socket = &conn.tcp();
  // SNI for names only: RFC 6066 forbids IP literals in server_name.
  if (!u.host_is_ip && !SSL_set_tlsext_host_name(conn.tls->native_handle(), u.host.c_str())) {
    watch.socket = nullptr;
    co_return failure{failure_kind::tls, "cannot set SNI for " + u.host, {}};
  }
  if (options_.verify_tls) conn.tls->set_verify_callback(ssl::host_name_verification(u.host));
  if (to.identity && !to.identity->apply(conn.tls->native_handle())) {
    watch.socket = nullptr;
    co_return failure{failure_kind::tls, "cannot present the client certificate to " + u.host, {}};
  }
  auto [hec] = co_await conn.tls->async_handshake(ssl::stream_base::client, use_tuple);
  if (hec || watch.expired) {
    watch.socket = nullptr;
    co_return classify(hec, failure_kind::tls, "TLS handshake with " + u.host_header(),
                       watch.expired);
  }
  co_return std::nullopt;
}

asio::awaitable<std::expected<std::unique_ptr<client::connection>, failure>> client::connect(
    const target& to, steady::time_point deadline, deadline_watch& watch) {
  const url& u = to.parsed;
  watch.socket = nullptr;
  // Checked here, connected below (or asked of the proxy) to this very endpoint object: what
  // is checked is what is connected to, whatever DNS says next time. Only a proxy that
  // resolves names itself is given the name unchecked.
  std::vector<tcp::endpoint> permitted;
  std::string blocked;
  const bool proxy_resolves = to.via_proxy && options_.proxy_resolves;
  if (!proxy_resolves) {
    auto resolved = co_await resolve(ioc_, u.host, u.host_is_ip, u.port, deadline);
    if (!resolved) co_return std::unexpected(std::move(resolved.error()));
    for (const auto& endpoint : *resolved) {
      if (auto why = guard_.check(endpoint.address())) {
        blocked += (blocked.empty() ? "" : ", ") + endpoint.address().to_string() + " (" +
                   std::string(*why) + ")";
      } else {
        permitted.push_back(endpoint);
      }
    }
  }
  if (!proxy_resolves && permitted.empty()) {
    co_return fail(failure_kind::blocked_address,
                   "refusing to connect to internal address " + blocked + " for " + u.host);
  }
  if (to.via_proxy) {
    // An https tunnel goes to a permitted address, the next one when the proxy could not reach
    // it (as a direct connection tries each); the proxy is given the name for http, whose
    // absolute-form request names its host, and with proxy_resolves.
    if (proxy_resolves || !u.tls) {
      const std::string authority = authority_of(u);
      co_return co_await connect_via_proxy(to, authority, deadline, watch);
    }
    std::expected<std::unique_ptr<connection>, failure> tunnel;
    std::string authority;  // outside the loop: GCC 12 and loop-scoped locals across co_await
    for (const auto& endpoint : permitted) {
      authority = describe(endpoint);
      tunnel = co_await connect_via_proxy(to, authority, deadline, watch);
      if (tunnel || tunnel.error().kind != failure_kind::connect) break;
    }
    co_return std::move(tunnel);
  }

  std::optional<failure> last;
  for (const auto& endpoint : permitted) {
    if (steady::now() >= deadline) break;
    auto conn = std::make_unique<connection>(ioc_);
    last = co_await open(*conn, endpoint, deadline, watch);
    if (last) {
      if (last->kind == failure_kind::cancelled || last->kind == failure_kind::local) break;
      continue;
    }
    error_code ec;
    conn->socket.non_blocking(true, ec);  // exchange() writes without waiting
    conn->origin = to.origin;
    if (!u.tls) co_return std::move(conn);
    if (auto bad = co_await handshake(*conn, to, watch)) co_return std::unexpected(*bad);
    co_return std::move(conn);
  }
  if (last) {
    if (!blocked.empty()) last->message += "; blocked: " + blocked;
    co_return std::unexpected(*last);
  }
  co_return fail(failure_kind::timeout, "connecting to " + u.host + ": timed out");
}

asio::awaitable<std::expected<std::unique_ptr<client::connection>, failure>>
client::connect_via_proxy(const target& to, const std::string& authority,
                          steady::time_point deadline, deadline_watch& watch) {
  const proxy& p = *proxy_;
  // The proxy's own address is ops' choice: the SSRF guard does not apply to it.
  auto proxies = co_await resolve(ioc_, p.host(), p.host_is_ip(), p.port(), deadline);
  if (!proxies) co_return std::unexpected(as_proxy_failure(std::move(proxies.error()), p));
  std::unique_ptr<connection> conn;
  std::optional<failure> last;
  for (const auto& endpoint : *proxies) {
    if (steady::now() >= deadline) break;
    auto attempt = std::make_unique<connection>(ioc_);
    last = co_await open(*attempt, endpoint, deadline, watch);
    if (!last) {
      conn = std::move(attempt);
      break;
    }
    if (last->kind == failure_kind::cancelled || last->kind == failure_kind::local) break;
  }
  if (!conn) {
    if (!last) last = failure{failure_kind::timeout, "connecting: timed out", {}};
    co_return std::unexpected(as_proxy_failure(std::move(*last), p));
  }
  conn->origin = to.origin;
  if (to.parsed.tls) {
    // CONNECT, then the proxy's answer, before any byte of TLS.
    watch.socket = &conn->socket;
    const std::string request = p.connect_request(authority);
    auto [wec, written] = co_await asio::async_write(conn->socket, asio::buffer(request), use_tuple);
    if (wec || watch.expired) {
      watch.socket = nullptr;
      co_return std::unexpected(as_proxy_failure(
          classify(wec, failure_kind::proxy, "sending CONNECT", watch.expired), p));
    }
    proxy_reply reply = co_await read_proxy_reply(conn->socket, options_.max_response_header);
    if (reply.ec || watch.expired) {
      watch.socket = nullptr;
      failure f = classify(reply.ec, failure_kind::proxy,
                           "proxy " + p.address() + ": waiting for the answer to CONNECT " + authority,
                           watch.expired);
      // A timeout here is most often the proxy still trying to reach a slow endpoint: the
      // endpoint's, as a direct connect timeout would be. Other errors are the proxy's.
      if (f.kind == failure_kind::timeout || f.kind == failure_kind::cancelled) {
        co_return std::unexpected(std::move(f));
      }
      co_return std::unexpected(as_proxy_failure(std::move(f), p));
    }
    if (!reply.error.empty()) {
      watch.socket = nullptr;
      co_return fail(failure_kind::proxy, "proxy " + p.address() + ": " + reply.error);
    }
    if (auto kind = proxy_answer_kind(reply.status)) {
      watch.socket = nullptr;
      co_return fail(*kind, "proxy " + p.address() + " answered " + std::to_string(reply.status) +
                                " to CONNECT " + authority);
    }
    if (auto bad = co_await handshake(*conn, to, watch)) co_return std::unexpected(*bad);
  }
  error_code ec;
  conn->tcp().non_blocking(true, ec);  // exchange() writes without waiting
  co_return std::move(conn);
}

std::expected<target, failure> client::prepare(
    std::string_view text, std::shared_ptr<const client_identity> identity) const {
  auto u = parse_url(text, options_.max_url_length);
  if (!u) return fail(failure_kind::invalid_url, u.error().message);
  target t;
  t.origin = u->origin();
  if (identity) {
    // A connection that presented a certificate is never reused for a request without it, or
    // with another.
    t.origin.append("#mtls:").append(identity->info().fingerprint_sha256);
    t.identity = std::move(identity);
  }
  if (proxy_ && !proxy_->bypasses(*u)) {
    // Tunnels (and http connections to the proxy) are pooled per target, apart from direct ones.
    t.via_proxy = true;
    t.origin.append("#proxy");
  }
  // http through the proxy: the absolute form (RFC 9112 3.2.2), with the proxy's credentials.
  const bool absolute = t.via_proxy && !u->tls;
  t.head.reserve(64 + u->target.size() + 2 * u->host.size() + options_.user_agent.size() +
                 (absolute ? proxy_->authorization_field().size() : 0));
  t.head.append("POST ");
  if (absolute) t.head.append("http://").append(u->host_header());
  t.head.append(u->target).append(" HTTP/1.1\r\nHost: ");
  t.head.append(u->host_header()).append("\r\nUser-Agent: ").append(options_.user_agent);
  t.head.append("\r\n");
  if (absolute) t.head.append(proxy_->authorization_field());
  t.parsed = *std::move(u);
  return t;
}

asio::awaitable<std::expected<response, failure>> client::post(request req) {
  auto to = prepare(req.url);
  if (!to) co_return std::unexpected(std::move(to.error()));
  static const auto empty = std::make_shared<const std::string>();
  const auto body = req.body ? req.body : empty;  // alive until the post below returns
  const std::string_view bytes = *body;
  co_return co_await post(*to, req.headers, bytes);
}

asio::awaitable<std::expected<response, failure>> client::post(const target& to,
                                                               const header_fields& headers,
                                                               std::string_view body_bytes) {
  // Exceptions never leave: Asio throws operation_aborted into a cancelled coroutine.
  try {
    const auto start = steady::now();
    const auto deadline =
        start + (to.total_timeout.count() > 0 ? to.total_timeout : options_.total_timeout);
    if (!headers.valid()) {
      co_return fail(failure_kind::invalid_request, "invalid header '" + headers.invalid_name() + "'");
    }
    char length_field[48] = "Content-Length: ";
    char* length_end = std::to_chars(length_field + 16, length_field + 40, body_bytes.size()).ptr;
    length_end = std::copy_n("\r\n\r\n", 4, length_end);
    const request_buffers request_bytes{
        asio::buffer(to.head), asio::buffer(headers.wire().data(), headers.wire().size()),
        asio::buffer(length_field, static_cast<std::size_t>(length_end - length_field)),
        asio::buffer(body_bytes.data(), body_bytes.size())};
    const std::string& origin = to.origin;
    deadline_watch watch(*watchdog_, deadline);
    // Declared outside the loop: GCC 12 destroyed a loop-scoped one at co_return without
    // having constructed it (free(): invalid pointer), and miscompiles co_await inside ?:.
    exchange_result x;
    for (int round = 0;; ++round) {
      // The resend after a dead pooled connection always goes on a fresh one.
      auto conn = round == 0 ? pool_->take(origin, options_.idle_timeout) : nullptr;
      const bool reused = conn != nullptr;
      if (reused) {
        reused_.fetch_add(1, std::memory_order_relaxed);
      } else {
        auto fresh = co_await connect(to, deadline, watch);
        if (!fresh) co_return std::unexpected(std::move(fresh.error()));
        conn = std::move(*fresh);
      }
      watch.socket = &conn->tcp();
      x = exchange_result{};
      if (conn->tls) {
        x = co_await exchange(*conn->tls, conn->tcp(), conn->in, request_bytes, options_, watch);
      } else {
        x = co_await exchange(conn->socket, conn->socket, conn->in, request_bytes, options_, watch);
      }
      watch.socket = nullptr;  // the connection goes back to the pool or is closed
      if (x.resp && to.via_proxy && !to.parsed.tls && x.resp->status == 407) {
        // The proxy refused our credentials for a plain-http request: its answer, not the
        // endpoint's.
        co_return fail(failure_kind::proxy, "proxy " + proxy_->address() + " answered 407");
      }
      if (x.resp) {
        if (x.reusable) {
          pool_->put(std::move(conn), options_.max_idle_per_origin, options_.idle_timeout);
        }
        x.resp->latency = steady::now() - start;
        co_return std::move(*x.resp);
      }
      // A pooled connection closed by the peer while our request was on its way: the
      // endpoint cannot have answered it, so sending it once more is safe.
      const bool stale = reused && round == 0 && !x.response_started &&
                         x.error.kind != failure_kind::timeout &&
                         x.error.kind != failure_kind::cancelled;
      if (!stale) co_return std::unexpected(std::move(x.error));
      stale_retries_.fetch_add(1, std::memory_order_relaxed);
    }
  } catch (const boost::system::system_error& e) {
    const bool aborted = e.code() == asio::error::operation_aborted;
    co_return fail(aborted ? failure_kind::cancelled : failure_kind::protocol, e.what(), e.code());
  } catch (const std::exception& e) {
    co_return fail(failure_kind::protocol, e.what());
  }
}

}  // namespace tresse::dispatcher::http
