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
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <charconv>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <variant>

#include "http/retry_after.hpp"

namespace tresse::dispatcher::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using boost::system::error_code;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxHeaderValueKept = 256;
constexpr int kMaxInterimResponses = 8;
// A pooled connection idle for less than this is reused without asking the kernel whether the
// peer closed it (a poll() per request under load). A peer closing that fast is rare, and is
// still safe: the request then fails before any response byte and goes once more on a fresh
// connection (post()).
constexpr auto kUncheckedIdle = std::chrono::milliseconds(20);


std::unexpected<failure> fail(failure_kind kind, std::string message, error_code code = {}) {
  return std::unexpected(failure{kind, std::move(message), code});
}

// The one place that turns a network error into a failure kind. `kind` is the step's own
// kind (connect, tls, protocol); timeouts and cancellation win over it.
failure classify(const error_code& ec, failure_kind kind, std::string_view what) {
  if (ec == beast::error::timeout) {
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

// RFC 9110 tchar: the characters a header name may have.
constexpr std::array<bool, 256> token_chars = [] {
  std::array<bool, 256> t{};
  for (int c = 0x21; c < 0x7F; ++c) t[c] = true;
  for (unsigned char c : std::string_view("()<>@,;:\\\"/[]?={} \t")) t[c] = false;
  return t;
}();

bool valid_header_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return token_chars[static_cast<unsigned char>(c)];
  });
}

bool valid_header_value(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool client_owned_header(std::string_view name) {
  for (auto owned : {"host", "content-length", "transfer-encoding", "connection", "user-agent"}) {
    if (iequals(name, owned)) return true;
  }
  return false;
}

std::string describe(const tcp::endpoint& ep) {
  return ep.address().is_v6() ? "[" + ep.address().to_string() + "]:" + std::to_string(ep.port())
                              : ep.address().to_string() + ":" + std::to_string(ep.port());
}

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

template <class Stream>
asio::awaitable<exchange_result> exchange(Stream& stream, beast::flat_buffer& buffer,
                                          const request_buffers& request_bytes,
                                          const client_options& options,
                                          steady::time_point deadline) {
  exchange_result out;
  beast::get_lowest_layer(stream).expires_at(deadline);
  auto [write_ec, written] = co_await asio::async_write(stream, request_bytes, use_tuple);
  if (write_ec) {
    out.error = classify(write_ec, failure_kind::protocol, "sending the request");
    co_return out;
  }

  // Read the header, skipping interim 1xx responses (101 is final: we never ask to upgrade).
  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser;
  for (int interim = 0;; ++interim) {
    parser.emplace();
    parser->header_limit(static_cast<std::uint32_t>(options.max_response_header));
    parser->body_limit(boost::none);  // we stop reading at the cap ourselves
    auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, *parser, use_tuple);
    out.response_started = out.response_started || parser->got_some() || buffer.size() > 0;
    if (ec == bhttp::error::header_limit) {
      out.error = {
          failure_kind::protocol,
          "response header larger than " + std::to_string(options.max_response_header) + " bytes",
          ec};
      co_return out;
    }
    if (ec == bhttp::error::end_of_stream) {
      out.error = {failure_kind::protocol, "connection closed before a response", ec};
      co_return out;
    }
    if (ec) {
      out.error = classify(ec, failure_kind::protocol, "reading the response");
      co_return out;
    }
    const unsigned status = parser->get().result_int();
    if (status / 100 != 1 || status == 101) break;
    if (interim == kMaxInterimResponses) {
      out.error = {failure_kind::protocol, "too many interim responses", {}};
      co_return out;
    }
  }

  response r;
  auto& head = parser->get();
  r.status = head.result_int();
  for (const auto& field : head) {
    for (auto name : kept_response_headers) {
      if (iequals(field.name_string(), name)) {
        const auto value = field.value();
        r.headers.emplace_back(std::string(name),
                               std::string(value.substr(0, kMaxHeaderValueKept)));
      }
    }
  }
  if (auto v = r.header("retry-after"); !v.empty()) {
    r.retry_after = parse_retry_after(v, std::chrono::system_clock::now());
  }

  // The body: at most max_response_body bytes, never the whole of a large one.
  const std::size_t cap = options.max_response_body;
  char chunk[4096];
  error_code body_ec;
  while (!parser->is_done() && r.body_snippet.size() < cap) {
    const std::size_t want = std::min(sizeof chunk, cap - r.body_snippet.size());
    head.body().data = chunk;
    head.body().size = want;
    auto [ec, n] = co_await bhttp::async_read(stream, buffer, *parser, use_tuple);
    r.body_snippet.append(chunk, want - head.body().size);
    if (ec && ec != bhttp::error::need_buffer) {
      // The status is in: the endpoint answered. A body that fails half-way is only
      // a shorter log line, not a failed attempt.
      body_ec = ec;
      break;
    }
  }
  r.body_truncated = !parser->is_done();
  out.reusable = parser->is_done() && !body_ec && head.keep_alive() && !parser->need_eof() &&
                 buffer.size() == 0;
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
  if (!valid_header_name(name) || !valid_header_value(value)) {
    if (invalid_.empty()) invalid_ = name.empty() ? std::string("(empty name)") : std::string(name);
    return *this;
  }
  if (client_owned_header(name)) return *this;
  wire_.append(name).append(": ").append(value).append("\r\n");
  return *this;
}

struct client::connection {
  std::string origin;
  std::unique_ptr<beast::tcp_stream> plain;  // exactly one of plain and tls
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  steady::time_point idle_since;

  beast::tcp_stream& tcp() { return tls ? tls->next_layer() : *plain; }

  // An idle HTTP/1.1 connection has nothing to read: readable means the peer closed it
  // (EOF, TLS close_notify) or sent garbage; either way it must not carry a request.
  bool looks_alive() {
    pollfd p{tcp().socket().native_handle(), POLLIN, 0};
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
      if (q.empty()) idle.erase(it);
    }
    return found;
  }

  void put(std::unique_ptr<connection> c, std::size_t max_per_origin,
           steady::duration idle_timeout) {
    std::unique_ptr<connection> evicted;
    std::lock_guard lock(mu);
    if (max_per_origin == 0) return;
    c->tcp().expires_never();
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
      tls_(tls ? std::move(tls) : make_tls_context(options_)),
      pool_(std::make_shared<pool>(ioc)) {}

client::~client() {
  std::lock_guard lock(pool_->mu);
  pool_->sweeper.cancel();
}

client_stats client::stats() const {
  return {opened_.load(), reused_.load(), stale_retries_.load(), pool_->size()};
}

asio::awaitable<std::expected<std::unique_ptr<client::connection>, failure>> client::connect(
    const url& u, steady::time_point deadline) {
  using namespace asio::experimental::awaitable_operators;

  std::vector<tcp::endpoint> candidates;
  if (u.host_is_ip) {
    candidates.emplace_back(asio::ip::make_address(u.host), u.port);
  } else {
    tcp::resolver resolver(ioc_);
    asio::steady_timer timer(ioc_, deadline);
    auto raced = co_await (resolver.async_resolve(u.host, std::to_string(u.port), use_tuple) ||
                           timer.async_wait(use_tuple));
    if (raced.index() == 1)
      co_return fail(failure_kind::timeout, "resolving " + u.host + ": timed out");
    auto& [ec, results] = std::get<0>(raced);
    if (ec == asio::error::operation_aborted) {
      co_return fail(failure_kind::cancelled, "resolving " + u.host + ": cancelled", ec);
    }
    if (ec) co_return fail(failure_kind::dns, "resolving " + u.host + ": " + ec.message(), ec);
    for (const auto& entry : results) {
      if (std::find(candidates.begin(), candidates.end(), entry.endpoint()) == candidates.end()) {
        candidates.push_back(entry.endpoint());
      }
    }
    if (candidates.empty())
      co_return fail(failure_kind::dns, "resolving " + u.host + ": no address");
  }

  std::string blocked;
  std::optional<failure> last;
  for (const auto& endpoint : candidates) {
    // Checked here, connected below to this very endpoint object: what is checked is what
    // is connected to, whatever DNS says next time.
    if (auto why = guard_.check(endpoint.address())) {
      blocked += (blocked.empty() ? "" : ", ") + endpoint.address().to_string() + " (" +
                 std::string(*why) + ")";
      continue;
    }
    if (steady::now() >= deadline) break;
    auto stream = std::make_unique<beast::tcp_stream>(ioc_);
    stream->expires_at(std::min(deadline, steady::now() + options_.connect_timeout));
    auto [ec] = co_await stream->async_connect(endpoint, use_tuple);
    if (ec) {
      last = classify(ec, failure_kind::connect, "connecting to " + describe(endpoint));
      if (last->kind == failure_kind::cancelled || last->kind == failure_kind::local) break;
      continue;
    }
    opened_.fetch_add(1, std::memory_order_relaxed);
    stream->socket().set_option(tcp::no_delay(true), ec);

    auto conn = std::make_unique<connection>();
    conn->origin = u.origin();
    if (!u.tls) {
      conn->plain = std::move(stream);
      co_return std::move(conn);
    }
    conn->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(*stream), *tls_);
    // SNI for names only: RFC 6066 forbids IP literals in server_name.
    if (!u.host_is_ip && !SSL_set_tlsext_host_name(conn->tls->native_handle(), u.host.c_str())) {
      co_return fail(failure_kind::tls, "cannot set SNI for " + u.host);
    }
    if (options_.verify_tls) conn->tls->set_verify_callback(ssl::host_name_verification(u.host));
    conn->tls->next_layer().expires_at(deadline);
    auto [hec] = co_await conn->tls->async_handshake(ssl::stream_base::client, use_tuple);
    if (hec) {
      co_return std::unexpected(
          classify(hec, failure_kind::tls, "TLS handshake with " + describe(endpoint)));
    }
    co_return std::move(conn);
  }
  if (last) {
    if (!blocked.empty()) last->message += "; blocked: " + blocked;
    co_return std::unexpected(*last);
  }
  if (!blocked.empty()) {
    co_return fail(failure_kind::blocked_address,
                   "refusing to connect to internal address " + blocked + " for " + u.host);
  }
  co_return fail(failure_kind::timeout, "connecting to " + u.host + ": timed out");
}

std::expected<target, failure> client::prepare(std::string_view text) const {
  auto u = parse_url(text, options_.max_url_length);
  if (!u) return fail(failure_kind::invalid_url, u.error().message);
  target t;
  t.origin = u->origin();
  t.head.reserve(48 + u->target.size() + u->host.size() + options_.user_agent.size());
  t.head.append("POST ").append(u->target).append(" HTTP/1.1\r\nHost: ");
  t.head.append(u->host_header()).append("\r\nUser-Agent: ").append(options_.user_agent);
  t.head.append("\r\n");
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
    const auto deadline = start + options_.total_timeout;
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
    const url* u = &to.parsed;
    const std::string& origin = to.origin;
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
        auto fresh = co_await connect(*u, deadline);
        if (!fresh) co_return std::unexpected(std::move(fresh.error()));
        conn = std::move(*fresh);
      }
      x = exchange_result{};
      if (conn->tls) {
        x = co_await exchange(*conn->tls, conn->buffer, request_bytes, options_, deadline);
      } else {
        x = co_await exchange(*conn->plain, conn->buffer, request_bytes, options_, deadline);
      }
      if (x.resp) {
        if (x.reusable) {
          conn->buffer.clear();
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
