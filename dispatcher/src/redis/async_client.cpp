#include "redis/async_client.hpp"

#include <algorithm>
#include <array>
#include <utility>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <utility>

#include "redis/cluster_client.hpp"
#include "redis/resp_reader.hpp"
#include "redis/sentinel.hpp"

namespace tresse::dispatcher::redis {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Everything below runs on `exec`: a strand of the client's own thread, or a shard's io_context.
struct async_client::state : std::enable_shared_from_this<async_client::state> {
  state(asio::any_io_executor ex, options o) : exec(ex), opts(std::move(o)), socket(ex), timer(ex) {}

  // One submit: `count` replies to collect, in order, then `done`.
  struct waiting {
    batch_completion done;
    std::size_t count = 1;
    std::vector<reply> replies;
    std::chrono::steady_clock::time_point sent;
    bool internal = false;     // AUTH / SELECT / ROLE: the reply is checked, not handed out
    bool must_be_primary = false;  // ROLE: with sentinels, only a primary will do
  };

  asio::any_io_executor exec;
  options opts;
  tcp::socket socket;
  asio::steady_timer timer;
  enum class link { down, connecting, up } status = link::down;
  std::string outbox;            // encoded, not yet written
  std::string writing_buffer;    // being written (kept to reuse its capacity)
  std::deque<waiting> inflight;  // in outbox or written, in reply order
  bool writing = false;
  bool stopped = false;
  bool demoted = false;  // a READONLY reply came in the batch being read
  resp_reader reader;
  std::array<char, 16384> buffer{};
  std::uint64_t generation = 0;  // bumps on every (re)connect, so stale callbacks do nothing
  std::shared_ptr<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::chrono::steady_clock::time_point connect_started;
  // With sentinels: where the blocking sentinel query runs (see connect()); owned by the client.
  asio::thread_pool* sentinel_thread = nullptr;

  static void finish(batch_completion done, result<std::vector<reply>> r) {
    auto ex = asio::get_associated_executor(done);
    asio::dispatch(ex, [done = std::move(done), r = std::move(r)]() mutable {
      std::move(done)(std::move(r));
    });
  }

  void enqueue(std::string_view encoded, std::size_t count, batch_completion done) {
    if (stopped) {
      finish(std::move(done), fail(error_kind::transient, "redis: client stopped"));
      return;
    }
    outbox += encoded;
    // Constructed, never assigned: assigning an any_completion_handler in Boost 1.81 wraps it
    // in another one, endlessly.
    inflight.push_back({std::move(done), count, {}, std::chrono::steady_clock::now()});
    if (status == link::down) connect();
    if (status == link::up) flush();
  }

  void fail_all(const std::string& why) {
    ++generation;
    close_socket();
    status = link::down;
    outbox.clear();
    writing = false;
    reader = resp_reader();
    demoted = false;
    auto pending = std::move(inflight);
    inflight.clear();
    for (auto& w : pending) {
      if (!w.internal) finish(std::move(w.done), fail(error_kind::transient, "redis: " + why));
    }
  }

  void close_socket() {
    boost::system::error_code ignored;
    socket.close(ignored);
    timer.cancel();
  }

  void connect() {
    status = link::connecting;
    connect_started = std::chrono::steady_clock::now();
    if (!opts.uses_sentinel()) return connect_to(address{opts.host, opts.port});
    // The sentinels are asked by the one resolver both clients use (redis/sentinel.hpp), which
    // blocks: on a thread of the client's own, never the shard's io thread, which goes on
    // serving its deliveries meanwhile. The answer comes back to `exec`; a stale one (the
    // client failed or stopped since) does nothing.
    auto self = shared_from_this();
    auto gen = generation;
    asio::post(*sentinel_thread, [self, gen] {
      auto found = resolve_primary(self->opts);
      asio::post(self->exec, [self, gen, found = std::move(found)] {
        if (gen != self->generation || self->stopped) return;
        if (!found) return self->fail_all(found.error().message);
        self->connect_to(*found);
      });
    });
  }

  void connect_to(const address& server) {
    auto self = shared_from_this();
    auto gen = generation;
    auto resolver = std::make_shared<tcp::resolver>(exec);
    resolver->async_resolve(
        server.host, std::to_string(server.port),
        [self, gen, resolver, host = server.host](const boost::system::error_code& ec,
                                                  tcp::resolver::results_type r) {
          if (gen != self->generation) return;
          if (ec) return self->fail_all("resolve " + host + ": " + ec.message());
          self->arm_timer();
          asio::async_connect(self->socket, r,
                              [self, gen](const boost::system::error_code& ec, const tcp::endpoint&) {
                                if (gen != self->generation) return;
                                if (ec) return self->fail_all("connect: " + ec.message());
                                self->connected();
                              });
        });
  }

  void connected() {
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    status = link::up;
    // AUTH and SELECT go first: in front of everything queued while connecting.
    command_list setup;
    std::deque<waiting> internal;
    auto add = [&](const std::vector<std::string_view>& argv) {
      setup.add(argv);
      internal.push_back({batch_completion{}, 1, {}, std::chrono::steady_clock::now(), true});
    };
    if (const auto auth = auth_argv(opts); !auth.empty()) add(auth);
    const std::string db = std::to_string(opts.db);
    if (opts.db != 0) add({"SELECT", db});
    if (opts.uses_sentinel()) {
      add({"ROLE"});
      internal.back().must_be_primary = true;
    }
    outbox.insert(0, setup.resp());
    for (auto it = internal.rbegin(); it != internal.rend(); ++it) {
      inflight.push_front(std::move(*it));
    }
    read();
    flush();
    arm_timer();
  }

  void flush() {
    if (writing || outbox.empty() || status != link::up) return;
    writing = true;
    writing_buffer.clear();
    std::swap(writing_buffer, outbox);
    auto self = shared_from_this();
    auto gen = generation;
    asio::async_write(socket, asio::buffer(writing_buffer),
                      [self, gen](const boost::system::error_code& ec, std::size_t) {
                        if (gen != self->generation) return;
                        self->writing = false;
                        if (ec) return self->fail_all("write: " + ec.message());
                        self->flush();
                      });
  }

  void read() {
    auto self = shared_from_this();
    auto gen = generation;
    socket.async_read_some(
        asio::buffer(buffer), [self, gen](const boost::system::error_code& ec, std::size_t n) {
          if (gen != self->generation) return;
          if (ec) return self->fail_all("read: " + ec.message());
          self->reader.feed(self->buffer.data(), n);
          for (;;) {
            auto next = self->reader.next();
            if (!next) return self->fail_all(next.error().message);
            if (!*next) break;
            reply r = std::move(**next);
            if (self->inflight.empty()) return self->fail_all("reply without a command");
            waiting& w = self->inflight.front();
            if (w.internal) {
              const bool must_be_primary = w.must_be_primary;
              self->inflight.pop_front();
              if (r.type == reply::kind::error) return self->fail_all("setup: " + r.str);
              if (must_be_primary) {
                if (auto role = parse_role(r); !role || !role->primary) {
                  return self->fail_all(
                      "the server the sentinels named is not a primary (yet); asking again");
                }
              }
              continue;
            }
            const bool demoted = is_demoted(r);
            self->demoted = self->demoted || demoted;
            w.replies.push_back(std::move(r));
            if (w.replies.size() < w.count) continue;
            waiting done = std::move(w);
            self->inflight.pop_front();
            // The next batch's clock starts when this one is answered (command_timeout).
            if (!self->inflight.empty()) self->inflight.front().sent = std::chrono::steady_clock::now();
            finish(std::move(done.done), std::move(done.replies));
            if (gen != self->generation) return;  // the caller failed or stopped the client
            // A demoted primary answers every write READONLY: drop it (the commands still in
            // flight fail, transient) so the next connect finds the new primary.
            if (std::exchange(self->demoted, false)) {
              return self->fail_all("the server no longer takes writes (READONLY); reconnecting");
            }
          }
          self->read();
        });
  }

  // One timer for the connection: ticks while connecting or connected, and fails it when the
  // connect or the oldest command in flight is overdue.
  void arm_timer() {
    auto self = shared_from_this();
    auto gen = generation;
    timer.expires_after(std::min({opts.connect_timeout, opts.command_timeout,
                                  std::chrono::milliseconds(250)}));
    timer.async_wait([self, gen](const boost::system::error_code& ec) {
      if (ec || gen != self->generation) return;
      auto now = std::chrono::steady_clock::now();
      if (self->status == link::connecting && now - self->connect_started > self->opts.connect_timeout) {
        return self->fail_all("connect: timed out");
      }
      if (self->status == link::up && !self->inflight.empty() &&
          now - self->inflight.front().sent > self->opts.command_timeout) {
        return self->fail_all("command timed out");
      }
      if (self->status != link::down && !self->stopped) self->arm_timer();
    });
  }
};

async_client::async_client(options opts) : own_io_(std::make_unique<asio::io_context>()) {
  if (!opts.cluster_nodes.empty()) {  // the cluster client has threads of its own
    cluster_ = std::make_shared<cluster_client>(opts);
    return;
  }
  state_ = std::make_shared<state>(asio::make_strand(own_io_->get_executor()), std::move(opts));
  start_sentinel_thread();
  auto work = std::make_shared<asio::executor_work_guard<asio::io_context::executor_type>>(
      own_io_->get_executor());
  state_->work = work;
  thread_ = std::thread([this] { own_io_->run(); });
}

async_client::async_client(options opts, asio::io_context& ioc)
    : cluster_(opts.cluster_nodes.empty() ? nullptr : std::make_shared<cluster_client>(opts)),
      state_(std::make_shared<state>(ioc.get_executor(), std::move(opts))) {
  start_sentinel_thread();
}

void async_client::start_sentinel_thread() {
  if (!state_->opts.uses_sentinel()) return;
  sentinel_thread_ = std::make_unique<asio::thread_pool>(1);
  state_->sentinel_thread = sentinel_thread_.get();
}

std::string async_client::node_of(std::string_view key) const {
  return cluster_ ? cluster_->node_of(key) : std::string();
}

std::uint64_t async_client::connection_generation() const {
  if (cluster_) return cluster_->generation();
  return state_ ? state_->generation : 0;
}

async_client::~async_client() { stop(); }

void async_client::stop() {
  if (std::exchange(stopped_, true)) return;
  if (cluster_) return cluster_->stop();
  // A sentinel query under way finishes first (bounded by the timeouts per sentinel); its
  // answer, posted to `exec`, then finds the client stopped.
  if (sentinel_thread_) sentinel_thread_->join();
  if (!own_io_) {
    // Bound: on the shard's thread (or after it stopped), so no other call is running.
    state_->stopped = true;
    state_->fail_all("client stopped");
    return;
  }
  asio::post(state_->exec, [s = state_] {
    s->stopped = true;
    s->fail_all("client stopped");
    s->work.reset();
  });
  thread_.join();
}

void async_client::submit(std::string_view encoded, std::size_t count, batch_completion done) {
  if (cluster_) {
    cluster_->submit(encoded, count, std::move(done));
    return;
  }
  if (!own_io_) {
    state_->enqueue(encoded, count, std::move(done));  // the shard's thread: no copy, no post
    return;
  }
  asio::post(state_->exec,
             [s = state_, e = std::string(encoded), count, d = std::move(done)]() mutable {
               s->enqueue(e, count, std::move(d));
             });
}

asio::awaitable<result<std::vector<reply>>> async_client::pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  const command_list list = command_list::of(commands);
  co_return co_await pipeline(list);
}

asio::awaitable<result<std::vector<reply>>> async_client::pipeline(const command_list& commands) {
  if (commands.empty()) co_return std::vector<reply>{};
  auto initiate = [this, &commands](auto handler) {
    submit(commands.resp(), commands.size(), batch_completion(std::move(handler)));
  };
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable),
                                          void(result<std::vector<reply>>)>(initiate,
                                                                            asio::use_awaitable);
}

asio::awaitable<result<reply>> async_client::command(const std::vector<std::string>& argv) {
  const std::vector<std::string_view> views(argv.begin(), argv.end());
  co_return co_await command_of(views);
}

asio::awaitable<result<reply>> async_client::command_of(const std::vector<std::string_view>& argv) {
  command_list one;
  one.add(argv);
  result<std::vector<reply>> r = co_await pipeline(one);
  if (!r) co_return std::unexpected(r.error());
  reply& one_reply = r->front();
  if (one_reply.type == reply::kind::error) co_return std::unexpected(error_of(one_reply));
  co_return std::move(one_reply);
}

asio::awaitable<result<reply>> async_client::eval(const script& s,
                                                  const std::vector<std::string>& keys,
                                                  const std::vector<std::string>& args) {
  // Views of the arguments, encoded once: a script's arguments can be large (a retry task
  // carries the event's body), and thousands of schedule calls can wait for Redis at once.
  std::string key_count;
  std::vector<std::string_view> argv = s.call_argv(false, key_count, keys, args);
  result<reply> r = co_await command_of(argv);
  if (!r && script::missing(r.error().message)) {
    argv = s.call_argv(true, key_count, keys, args);
    r = co_await command_of(argv);
  }
  co_return r;
}

}  // namespace tresse::dispatcher::redis
