#include "redis/async_client.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <array>

namespace tresse::dispatcher::redis {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// RESP: an array of bulk strings.
std::string encode(const std::vector<std::string>& argv) {
  std::string out = "*" + std::to_string(argv.size()) + "\r\n";
  for (const auto& a : argv) {
    out += "$" + std::to_string(a.size()) + "\r\n";
    out += a;
    out += "\r\n";
  }
  return out;
}

struct reader_deleter {
  void operator()(redisReader* r) const { redisReaderFree(r); }
};

}  // namespace

// Everything below runs on `strand`, except submit()'s post into it.
struct async_client::state : std::enable_shared_from_this<async_client::state> {
  state(asio::any_io_executor ex, options o)
      : strand(asio::make_strand(ex)), opts(std::move(o)), socket(strand), timer(strand) {}

  struct waiting {
    completion done;
    std::chrono::steady_clock::time_point sent;
    bool internal = false;  // AUTH / SELECT: the reply is checked, not handed out
  };

  asio::strand<asio::any_io_executor> strand;
  options opts;
  tcp::socket socket;
  asio::steady_timer timer;
  enum class link { down, connecting, up } status = link::down;
  std::string outbox;            // encoded, not yet written
  std::deque<waiting> inflight;  // in outbox or written, in reply order
  bool writing = false;
  bool stopped = false;
  std::unique_ptr<redisReader, reader_deleter> reader{redisReaderCreate()};
  std::array<char, 16384> buffer{};
  std::uint64_t generation = 0;  // bumps on every (re)connect, so stale callbacks do nothing
  std::shared_ptr<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::chrono::steady_clock::time_point connect_started;

  static void finish(completion done, result<reply> r) {
    auto ex = asio::get_associated_executor(done);
    asio::dispatch(ex, [done = std::move(done), r = std::move(r)]() mutable {
      std::move(done)(std::move(r));
    });
  }

  void enqueue(std::string encoded, completion done) {
    if (stopped) {
      finish(std::move(done), fail(error_kind::transient, "redis: client stopped"));
      return;
    }
    outbox += encoded;
    inflight.push_back({std::move(done), std::chrono::steady_clock::now()});
    if (status == link::down) connect();
    if (status == link::up) flush();
  }

  void fail_all(const std::string& why) {
    ++generation;
    close_socket();
    status = link::down;
    outbox.clear();
    writing = false;
    reader.reset(redisReaderCreate());
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
    auto self = shared_from_this();
    auto gen = generation;
    auto resolver = std::make_shared<tcp::resolver>(strand);
    resolver->async_resolve(
        opts.host, std::to_string(opts.port),
        [self, gen, resolver](const boost::system::error_code& ec, tcp::resolver::results_type r) {
          if (gen != self->generation) return;
          if (ec) return self->fail_all("resolve " + self->opts.host + ": " + ec.message());
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
    std::string setup;
    std::deque<waiting> internal;
    auto add = [&](std::vector<std::string> argv) {
      setup += encode(argv);
      internal.push_back({completion{}, std::chrono::steady_clock::now(), true});
    };
    if (!opts.password.empty()) add({"AUTH", opts.password});
    if (opts.db != 0) add({"SELECT", std::to_string(opts.db)});
    outbox.insert(0, setup);
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
    auto data = std::make_shared<std::string>(std::move(outbox));
    outbox.clear();
    auto self = shared_from_this();
    auto gen = generation;
    asio::async_write(socket, asio::buffer(*data),
                      [self, gen, data](const boost::system::error_code& ec, std::size_t) {
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
          if (redisReaderFeed(self->reader.get(), self->buffer.data(), n) != REDIS_OK) {
            return self->fail_all("protocol error");
          }
          for (;;) {
            void* raw = nullptr;
            if (redisReaderGetReply(self->reader.get(), &raw) != REDIS_OK) {
              return self->fail_all("protocol error");
            }
            if (!raw) break;
            reply r = copy_reply(static_cast<redisReply*>(raw));
            freeReplyObject(raw);
            if (self->inflight.empty()) return self->fail_all("reply without a command");
            waiting w = std::move(self->inflight.front());
            self->inflight.pop_front();
            if (w.internal) {
              if (r.type == reply::kind::error) return self->fail_all("setup: " + r.str);
              continue;
            }
            finish(std::move(w.done), std::move(r));
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

async_client::async_client(options opts)
    : state_(std::make_shared<state>(io_.get_executor(), std::move(opts))) {
  auto work = std::make_shared<asio::executor_work_guard<asio::io_context::executor_type>>(
      io_.get_executor());
  state_->work = work;
  thread_ = std::thread([this] { io_.run(); });
}

async_client::~async_client() {
  asio::post(state_->strand, [s = state_] {
    s->stopped = true;
    s->fail_all("client stopped");
    s->work.reset();
  });
  thread_.join();
}

void async_client::submit(std::string encoded, completion done) {
  asio::post(state_->strand, [s = state_, e = std::move(encoded), d = std::move(done)]() mutable {
    s->enqueue(std::move(e), std::move(d));
  });
}

asio::awaitable<result<reply>> async_client::command(const std::vector<std::string>& argv) {
  std::string encoded = encode(argv);
  auto initiate = [this](auto handler, std::string e) {
    submit(std::move(e), completion(std::move(handler)));
  };
  result<reply> r = co_await asio::async_initiate<decltype(asio::use_awaitable), void(result<reply>)>(
      initiate, asio::use_awaitable, std::move(encoded));
  if (r && r->type == reply::kind::error) co_return std::unexpected(error_of(*r));
  co_return r;
}

asio::awaitable<result<reply>> async_client::eval(const script& s,
                                                  const std::vector<std::string>& keys,
                                                  const std::vector<std::string>& args) {
  std::vector<std::string> argv{"EVALSHA", s.sha1(), std::to_string(keys.size())};
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  result<reply> r = co_await command(argv);
  if (!r && r.error().message.find("NOSCRIPT") != std::string::npos) {
    argv[0] = "EVAL";
    argv[1] = s.source();
    r = co_await command(argv);
  }
  co_return r;
}

}  // namespace tresse::dispatcher::redis
