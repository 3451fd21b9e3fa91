#include "tresse/common/http_server.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <condition_variable>
#include <exception>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "tresse/common/log.hpp"
#include "tresse/common/thread_name.hpp"

namespace tresse::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

// Errors as values on every I/O step: a closed connection is the normal end of a keep-alive
// session, not something to throw about.
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

// What an idle connection reads when its next request begins: usually the whole request, which
// the header parser then takes from the buffer without another read.
constexpr std::size_t first_read_size = 4096;

void log_coroutine_exception(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    log::error("http server: connection failed", {{"error", ex.what()}});
  } catch (...) {
    log::error("http server: connection failed", {{"error", "unknown exception"}});
  }
}

response error_response(bhttp::status status, std::string_view code, std::string_view message) {
  response res{status, 11};
  res.set(bhttp::field::content_type, "application/json");
  // code and message are our own constants: no JSON escaping needed.
  res.body() = std::string(R"({"error":{"code":")") + std::string(code) + R"(","message":")" +
               std::string(message) + R"(","status":)" +
               std::to_string(static_cast<unsigned>(status)) + "}}";
  res.keep_alive(false);
  return res;
}

// The answer to a request that could not be read, or none when the connection just ends.
std::optional<response> answer_for_read_error(const beast::error_code& ec) {
  if (ec == bhttp::error::body_limit) {
    return error_response(bhttp::status::payload_too_large, "payload_too_large",
                          "request body exceeds the limit");
  }
  if (ec == bhttp::error::header_limit) {
    return error_response(bhttp::status::request_header_fields_too_large, "headers_too_large",
                          "request headers exceed the limit");
  }
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
    return error_response(bhttp::status::bad_request, "bad_request", "malformed HTTP request");
  }
  return std::nullopt;  // eof, reset, timeout, cancellation: nobody to answer
}

}  // namespace

struct server::impl {
  // Deadlines are plain numbers checked by one coarse sweeper timer rather than a timer per
  // operation: re-arming a timer costs a timerfd_settime syscall, twice per request.
  struct connection {
    explicit connection(tcp::socket s) : socket(std::move(s)) {}

    void expires_after(std::chrono::milliseconds d) {
      deadline.store(to_ticks(std::chrono::steady_clock::now() + d), std::memory_order_relaxed);
    }
    void expires_never() { deadline.store(0, std::memory_order_relaxed); }
    bool expired(std::int64_t now) const {
      auto d = deadline.load(std::memory_order_relaxed);
      return d != 0 && d <= now;
    }

    // Waiting for a request's first byte: stop() and a full listener may close it now.
    void become_idle() {
      idle_since.store(to_ticks(std::chrono::steady_clock::now()), std::memory_order_relaxed);
      state.store(idle);
    }
    // A request began; false when the listener took the connection (to admit another) first,
    // and then the connection must end.
    bool begin_request() {
      int expected = idle;
      return state.compare_exchange_strong(expected, reading_header);
    }
    // Claims an idle connection for closing; false when it is no longer idle.
    bool take_for_another() {
      int expected = idle;
      return state.compare_exchange_strong(expected, closed_for_another);
    }

    // Only the connection's own coroutine changes its state, except take_for_another().
    static constexpr int busy = 0, idle = 1, reading_header = 2, closed_for_another = 3;
    tcp::socket socket;
    // Steady-clock deadline of the pending read or write; 0 when none. Set by the connection,
    // read by the sweeper.
    std::atomic<std::int64_t> deadline{0};
    std::atomic<int> state{busy};
    std::atomic<std::int64_t> idle_since{0};  // when it last became idle
  };

  static std::int64_t to_ticks(std::chrono::steady_clock::time_point t) {
    return t.time_since_epoch().count();
  }

  impl(server_options o, handler h)
      : options(std::move(o)),
        handle(std::move(h)),
        ioc(static_cast<int>(options.threads)),
        acceptor(next_executor()),
        sweeper(acceptor.get_executor()) {}

  // One strand per connection when several threads run the io_context; a single thread needs
  // none.
  asio::any_io_executor next_executor() {
    if (options.threads > 1) return asio::make_strand(ioc);
    return ioc.get_executor();
  }

  void set_peer(request& req, const tcp::socket& socket) const {
    if (options.peer_header.empty()) return;
    beast::error_code ec;
    auto peer = socket.remote_endpoint(ec);
    req.set(options.peer_header, ec ? std::string("unknown") : peer.address().to_string());
  }

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(tcp::socket socket);
  asio::awaitable<void> lingering_close(connection& conn);
  asio::awaitable<void> sweep_loop();
  bool close_longest_idle();

  server_options options;
  handler handle;
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> served{0};
  std::atomic<std::size_t> admitted{0};  // connections accepted and not yet ended

  // Live connections, so that stop() can wake those waiting for a request.
  std::mutex mutex;
  std::condition_variable changed;
  std::list<std::shared_ptr<connection>> connections;
  bool accepting = true;

  // Declared after what the coroutines use, so it is destroyed (with any unfinished
  // coroutine frames) while those still exist.
  asio::io_context ioc;
  tcp::acceptor acceptor;
  asio::steady_timer sweeper;
  std::uint16_t port = 0;
  std::vector<std::thread> threads;
  bool stopped = false;
};

asio::awaitable<void> server::impl::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(next_executor(), nothrow);
    if (ec) {
      if (stopping || ec == asio::error::operation_aborted) break;
      // Out of descriptors or similar: back off instead of spinning on the error.
      log::warn("http server: accept failed", {{"error", ec.message()}});
      asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(nothrow);
      continue;
    }
    beast::error_code ignored;
    // Counted here, not when serve() registers it: accepts that complete before the coroutines
    // they spawn have run must see each other, or a burst would overshoot the cap.
    if (options.max_connections > 0 && admitted.load() >= options.max_connections) {
      // Over the cap: refused, and its descriptor back at once, unless an idle connection hands
      // its slot over (it keeps its descriptor for the moment it takes to close).
      if (!options.close_idle_when_full || !close_longest_idle()) {
        socket.close(ignored);
        continue;
      }
    } else {
      admitted.fetch_add(1);
    }
    socket.set_option(tcp::no_delay(true), ignored);
    auto ex = socket.get_executor();
    asio::co_spawn(ex, serve(std::move(socket)), log_coroutine_exception);
  }
  std::lock_guard lock(mutex);
  accepting = false;
  changed.notify_all();
}

asio::awaitable<void> server::impl::serve(tcp::socket socket) {
  auto conn = std::make_shared<connection>(std::move(socket));
  std::list<std::shared_ptr<connection>>::iterator self;
  {
    std::lock_guard lock(mutex);
    self = connections.insert(connections.end(), conn);
  }
  struct unregister {
    impl* owner;
    std::list<std::shared_ptr<connection>>::iterator it;
    connection* conn;
    ~unregister() {
      // A connection closed to admit another gave its slot to that one.
      if (conn->state.load() != connection::closed_for_another) owner->admitted.fetch_sub(1);
      std::lock_guard lock(owner->mutex);
      owner->connections.erase(it);
      owner->changed.notify_all();
    }
  } unregister_on_exit{this, self, conn.get()};

  tcp::socket& stream = conn->socket;
  beast::flat_buffer buffer;  // one per connection; keeps pipelined bytes for the next request
  bool keep_going = true;
  while (keep_going && !stopping) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(options.body_limit);
    parser.header_limit(static_cast<std::uint32_t>(options.header_limit));

    // Idle until the next request's first byte (unless pipelined bytes are here already): only
    // then may stop() or a full listener close the connection.
    if (buffer.size() == 0) {
      conn->become_idle();
      conn->expires_after(options.idle_timeout);
      auto space = buffer.prepare(first_read_size);
      auto [idle_ec, got] = co_await stream.async_read_some(space, nothrow);
      if (!conn->begin_request() || idle_ec) break;  // taken for another, closed, timed out
      buffer.commit(got);
    } else {
      conn->state.store(connection::reading_header);
    }
    // The whole header within its own deadline, however slowly its bytes trickle in.
    conn->expires_after(options.header_timeout);
    auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, nothrow);
    conn->state.store(connection::busy);
    if (!ec && !parser.is_done()) {
      if (beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
        bhttp::response<bhttp::empty_body> go_on{bhttp::status::continue_, 11};
        conn->expires_after(options.write_timeout);
        std::tie(ec, n) = co_await bhttp::async_write(stream, go_on, nothrow);
      }
      if (!ec) {
        conn->expires_after(options.read_timeout);
        std::tie(ec, n) = co_await bhttp::async_read(stream, buffer, parser, nothrow);
      }
    }

    conn->expires_never();  // the handler takes as long as it takes

    response res;
    bool is_head = false;
    if (ec) {
      auto answer = answer_for_read_error(ec);
      if (!answer) break;
      res = std::move(*answer);
      keep_going = false;
      if (ec == bhttp::error::body_limit && options.on_rejected) {
        request head = parser.release();
        head.body().clear();
        set_peer(head, stream);
        co_await options.on_rejected(head, res);
      }
    } else {
      request req = parser.release();
      set_peer(req, stream);
      is_head = req.method() == bhttp::verb::head;
      bool failed = false;
      try {
        res = co_await handle(req);
      } catch (...) {
        failed = true;
      }
      if (failed) {
        res = error_response(bhttp::status::internal_server_error, "internal_error",
                             "the request handler failed");
      }
      keep_going = req.keep_alive() && res.keep_alive() && !stopping;
      res.version(req.version());
    }
    if (res.version() == 0) res.version(11);
    res.keep_alive(keep_going);
    if (auto status = res.result_int(); status / 100 == 1 || status == 204 || status == 304) {
      // These never carry a body, nor a Content-Length (RFC 9110 8.6).
      res.body().clear();
      res.erase(bhttp::field::content_length);
      res.erase(bhttp::field::transfer_encoding);
    } else if (is_head) {
      // Same headers as a GET, no body.
      auto length = res.body().size();
      res.body().clear();
      res.content_length(length);
    } else {
      res.prepare_payload();
    }

    served.fetch_add(1, std::memory_order_relaxed);  // before the write: clients see it counted
    conn->expires_after(options.write_timeout);
    auto [wec, written] = co_await bhttp::async_write(stream, res, nothrow);
    if (wec) co_return;
    if (!keep_going && ec) co_await lingering_close(*conn);
  }
  beast::error_code ignored;
  stream.shutdown(tcp::socket::shutdown_send, ignored);
}

// After answering a request we did not read whole (413, 431, 400), read and drop what the client
// is still sending for a moment: closing with unread data makes the kernel reset the connection,
// and the client could lose the answer.
asio::awaitable<void> server::impl::lingering_close(connection& conn) {
  beast::error_code ignored;
  conn.socket.shutdown(tcp::socket::shutdown_send, ignored);
  conn.expires_after(std::chrono::seconds(1));
  char sink[16 * 1024];
  for (;;) {
    auto [ec, n] = co_await conn.socket.async_read_some(asio::buffer(sink), nothrow);
    if (ec) break;
  }
}

// Cancels the pending operation of every connection past its deadline. Deadlines are enforced
// to within one tick (a quarter of the shortest timeout, 10 ms to 1 s).
asio::awaitable<void> server::impl::sweep_loop() {
  auto shortest = std::min({options.idle_timeout, options.header_timeout, options.read_timeout,
                            options.write_timeout});
  auto tick = std::clamp<std::chrono::milliseconds>(shortest / 4, std::chrono::milliseconds(10),
                                                    std::chrono::seconds(1));
  while (!stopping) {
    sweeper.expires_after(tick);
    co_await sweeper.async_wait(nothrow);
    auto now = to_ticks(std::chrono::steady_clock::now());
    std::lock_guard lock(mutex);
    for (const auto& conn : connections) {
      if (!conn->expired(now)) continue;
      // Checked again on the connection's executor: the operation may have finished and a new
      // one, with a new deadline, begun in between.
      asio::post(conn->socket.get_executor(), [conn, now] {
        beast::error_code ignored;
        if (conn->expired(now)) conn->socket.cancel(ignored);
      });
    }
  }
}

// Picks the connection idle the longest, claims it so that it cannot start a request, and closes
// it on its own executor. False when none is idle. O(connections), and only at the cap.
bool server::impl::close_longest_idle() {
  std::lock_guard lock(mutex);
  for (;;) {
    std::shared_ptr<connection> oldest;
    std::int64_t oldest_since = 0;
    for (const auto& conn : connections) {
      if (conn->state.load() != connection::idle) continue;
      auto since = conn->idle_since.load(std::memory_order_relaxed);
      if (!oldest || since < oldest_since) {
        oldest = conn;
        oldest_since = since;
      }
    }
    if (!oldest) return false;
    if (!oldest->take_for_another()) continue;  // it just began a request: look again
    asio::post(oldest->socket.get_executor(), [oldest] {
      beast::error_code ignored;
      oldest->socket.cancel(ignored);
    });
    return true;
  }
}

result<server> server::start(server_options options, handler h) {
  if (!h) return fail(error_kind::permanent, "http server: no handler given");
  if (options.threads == 0) options.threads = 1;
  auto p = std::make_unique<impl>(std::move(options), std::move(h));
  const auto& o = p->options;
  std::string where = o.host + ":" + std::to_string(o.port);

  beast::error_code ec;
  tcp::resolver resolver(p->ioc);
  auto endpoints = resolver.resolve(o.host, std::to_string(o.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) {
    return fail(error_kind::permanent,
                "http server: cannot resolve " + where + ": " + (ec ? ec.message() : "no address"));
  }
  tcp::endpoint endpoint = endpoints.begin()->endpoint();
  auto& acceptor = p->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) p->port = acceptor.local_endpoint(ec).port();
  if (ec) return fail(error_kind::permanent, "http server: bind " + where + ": " + ec.message());

  asio::co_spawn(acceptor.get_executor(), p->accept_loop(), log_coroutine_exception);
  asio::co_spawn(acceptor.get_executor(), p->sweep_loop(), log_coroutine_exception);
  for (std::size_t i = 0; i < p->options.threads; ++i) {
    p->threads.emplace_back([io = &p->ioc, name = p->options.thread_name + "-" + std::to_string(i)] {
      name_this_thread(name);
      io->run();
    });
  }
  return server(std::move(p));
}

server::server(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
server::server(server&&) noexcept = default;
server& server::operator=(server&& other) noexcept {
  if (this != &other) {
    stop();
    impl_ = std::move(other.impl_);
  }
  return *this;
}
server::~server() { stop(); }

std::uint16_t server::port() const noexcept { return impl_ ? impl_->port : 0; }

std::uint64_t server::requests_served() const noexcept {
  return impl_ ? impl_->served.load(std::memory_order_relaxed) : 0;
}

void server::stop() {
  if (!impl_ || impl_->stopped) return;
  impl& s = *impl_;
  s.stopping = true;
  asio::post(s.acceptor.get_executor(), [&s] {
    beast::error_code ignored;
    s.acceptor.close(ignored);
    s.sweeper.cancel();
  });
  std::unique_lock lock(s.mutex);
  for (const auto& conn : s.connections) {
    // Wake connections waiting for their next request or reading its header; those busy with
    // one finish it and close, since `stopping` turns keep-alive off.
    asio::post(conn->socket.get_executor(), [conn] {
      beast::error_code ignored;
      if (conn->state.load() != impl::connection::busy) conn->socket.cancel(ignored);
    });
  }
  s.changed.wait_for(lock, s.options.drain_timeout,
                     [&s] { return s.connections.empty() && !s.accepting; });
  lock.unlock();
  s.ioc.stop();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
  // Past the drain deadline: cut off whatever is left (the threads are gone, so this is safe);
  // their coroutine frames go with the io_context.
  lock.lock();
  for (const auto& conn : s.connections) {
    beast::error_code ignored;
    conn->socket.close(ignored);
  }
  s.stopped = true;
}

}  // namespace tresse::http
