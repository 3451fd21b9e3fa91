// tresse-webhook listen: an HTTP sink that verifies every request and prints one JSON line per
// webhook. Test knobs (--status, --delay-ms, --fail-every) make it a stand-in endpoint for
// delivery tests and the try-out.
#include <pthread.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "receiver/cli/commands.hpp"
#include "receiver/cli/input.hpp"
#include "tresse/common/http_server.hpp"
#include "tresse/receiver/replay_guard.hpp"
#include "tresse/receiver/verify.hpp"

namespace tresse::cli {

namespace {

namespace bhttp = boost::beast::http;

class line_printer {
 public:
  void print(const nlohmann::ordered_json& line) {
    std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text.push_back('\n');
    std::lock_guard lock(mutex_);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  }

 private:
  std::mutex mutex_;
};

struct sink_options {
  unsigned status = 204;
  std::int64_t fail_every = 0;
  std::chrono::milliseconds delay{0};
  bool quiet = false;
};

class sink {
 public:
  sink(receiver::verifier verifier, sink_options options)
      : verifier_(std::move(verifier)), options_(options) {}

  boost::asio::awaitable<http::response> handle(http::request& req) {
    if (options_.delay.count() > 0) {
      boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, options_.delay);
      co_await timer.async_wait(boost::asio::use_awaitable);
    }
    auto header = [&req](std::string_view name) -> std::optional<std::string_view> {
      auto it = req.find(name);
      if (it == req.end()) return std::nullopt;
      return std::string_view(it->value().data(), it->value().size());
    };
    receiver::verification v = verifier_.verify(header, req.body());

    http::response res;
    res.version(req.version());
    std::string_view outcome = "valid";
    if (v.code() == receiver::errc::replayed) {
      // Authentic, and already accepted: acknowledge it (DESIGN.md "Receivers and duplicates").
      outcome = receiver::to_string(v.code());
      res.result(bhttp::status::ok);
      res.set(bhttp::field::content_type, "application/json");
      res.body() = R"({"duplicate":true})";
    } else if (!v) {
      outcome = receiver::to_string(v.code());
      res.result(bhttp::status::unauthorized);
      res.set(bhttp::field::content_type, "application/json");
      res.body() =
          nlohmann::json{{"error", {{"code", outcome}, {"message", v.message}, {"status", 401}}}}
              .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else {
      std::int64_t n = valid_count_.fetch_add(1, std::memory_order_relaxed) + 1;
      bool fail = options_.fail_every > 0 && n % options_.fail_every == 0;
      res.result(fail ? 500 : options_.status);
      // A webhook we did not acknowledge will be retried with the same id: let it in then.
      if (res.result_int() / 100 != 2 && verifier_.options().replay) {
        verifier_.options().replay->forget(v.id);
      }
    }

    if (!options_.quiet) {
      nlohmann::ordered_json line = {{"id", v.id}, {"type", nullptr}, {"outcome", outcome}};
      if (auto type = header("tresse-event-type")) line["type"] = *type;
      line["timestamp"] = v.timestamp != 0 ? nlohmann::ordered_json(v.timestamp) : nullptr;
      line["body_bytes"] = req.body().size();
      line["status"] = res.result_int();
      if (!v) line["message"] = v.message;
      printer_.print(line);
    }
    co_return res;
  }

 private:
  receiver::verifier verifier_;
  sink_options options_;
  std::atomic<std::int64_t> valid_count_{0};
  line_printer printer_;
};

// The descriptor limit less a reserve for the process's own (standard streams, epoll, timers),
// so that a flood of connections cannot leave it without one.
std::int64_t default_connection_cap() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return 1024;
  constexpr std::int64_t reserve = 64;
  return std::max<std::int64_t>(16, static_cast<std::int64_t>(lim.rlim_cur) - reserve);
}

struct listen_options {
  secret_flags secrets;
  std::int64_t port = -1;
  std::string host = "127.0.0.1";
  std::int64_t tolerance = 300;
  bool replay_guard = false;
  bool quiet = false;
  std::int64_t threads = 1;
  std::int64_t max_connections = 0;  // 0: default_connection_cap()
  std::int64_t idle_timeout = 60;
  std::int64_t header_timeout = 10;
  std::int64_t status = 204;
  std::int64_t fail_every = 0;
  std::int64_t delay_ms = 0;
};

int listen(const listen_options& o) {
  auto keys = parse_secrets(o.secrets);

  http::server_options so;
  so.port = static_cast<std::uint16_t>(o.port);
  so.host = o.host;
  so.threads = static_cast<std::size_t>(o.threads);
  so.max_connections = static_cast<std::size_t>(o.max_connections > 0 ? o.max_connections
                                                                      : default_connection_cap());
  so.idle_timeout = std::chrono::seconds(o.idle_timeout);
  so.header_timeout = std::chrono::seconds(o.header_timeout);
  // The dispatcher keeps connections pooled: a full sink makes room for a new one.
  so.close_idle_when_full = true;

  receiver::verifier_options vo;
  vo.tolerance = std::chrono::seconds(o.tolerance);
  if (o.replay_guard) vo.replay = std::make_shared<receiver::memory_replay_guard>();

  sink_options sink_opts;
  sink_opts.status = static_cast<unsigned>(o.status);
  sink_opts.fail_every = o.fail_every;
  sink_opts.delay = std::chrono::milliseconds(o.delay_ms);
  sink_opts.quiet = o.quiet;
  auto the_sink =
      std::make_shared<sink>(receiver::verifier(std::move(keys), std::move(vo)), sink_opts);

  // Block the stop signals in every thread (the server's threads inherit this mask) and wait
  // for them here, so that stopping runs on this thread and not in a signal handler.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto server =
      http::server::start(so, [the_sink](http::request& req) { return the_sink->handle(req); });
  if (!server) {
    std::fprintf(stderr, "tresse-webhook listen: %s\n", server.error().message.c_str());
    return exit_rejected;
  }
  bool v6 = so.host.find(':') != std::string::npos;
  std::fprintf(stderr, "tresse-webhook listening on http://%s%s%s:%u\n", v6 ? "[" : "",
               so.host.c_str(), v6 ? "]" : "", static_cast<unsigned>(server->port()));
  std::fflush(stderr);

  int received = 0;
  sigwait(&stop_signals, &received);
  server->stop();
  std::fprintf(stderr, "tresse-webhook stopped (%s) after %llu requests\n",
               received == SIGINT ? "SIGINT" : "SIGTERM",
               static_cast<unsigned long long>(server->requests_served()));
  return exit_ok;
}

}  // namespace

void add_listen_command(program& p) {
  auto o = std::make_shared<listen_options>();
  CLI::App& cmd = p.command(p.app(), "listen",
                            "run an HTTP sink that verifies and prints every webhook it receives",
                            [o] { return listen(*o); });
  cmd.footer(
      std::string(
          "Receives webhooks over HTTP/1.1 (keep-alive), verifies each one and prints one "
          "JSON line\nper request on stdout:\n"
          "  {\"id\":\"evt_1\",\"type\":\"appointment.created\",\"outcome\":\"valid\","
          "\"timestamp\":1776594720,\n"
          "   \"body_bytes\":312,\"status\":204}\n"
          "outcome is \"valid\" or the error code (no_matching_signature, timestamp_too_old, "
          "...).\n"
          "Answers 204 to valid webhooks, 401 with {\"error\":{\"code\",\"message\",\"status\"}} "
          "otherwise.\n"
          "With --replay-guard, a validly signed webhook whose id was already accepted is a "
          "duplicate\n"
          "(outcome \"replayed\"): at least once delivery sends some twice, so it is "
          "acknowledged with\n"
          "200 {\"duplicate\":true} and not processed again (a 4xx would make the sender "
          "retry it).\n"
          "The first line on stderr says where it listens. SIGINT/SIGTERM stop it.\n") +
      secret_env_note);
  constexpr std::int64_t int_max = std::numeric_limits<std::int32_t>::max();
  cmd.add_option("--port", o->port, "port to listen on; 0 picks a free one (printed on stderr)")
      ->required()
      ->check(in_range(0, 65535));
  cmd.add_option("--host", o->host, "address to bind")->capture_default_str();
  add_secret_flags(cmd, o->secrets);
  cmd.add_option("--tolerance", o->tolerance, "accepted clock skew in both directions, in seconds")
      ->type_name("SECONDS")
      ->check(in_range(0, int_max))
      ->capture_default_str();
  cmd.add_flag("--replay-guard", o->replay_guard,
               "acknowledge a webhook-id seen before as a duplicate (see below)");
  cmd.add_flag("--quiet", o->quiet, "print no per-request lines (benchmarks)");
  cmd.add_option("--threads", o->threads, "server threads")
      ->check(in_range(1, 64))
      ->capture_default_str();
  cmd.add_option("--max-connections", o->max_connections,
                 "connections held open at once (default: the descriptor limit less 64 kept for "
                 "the process itself, at least 16); past it a new connection closes the "
                 "longest-idle one, or is closed at once when none is idle")
      ->check(in_range(1, int_max));
  cmd.add_option("--idle-timeout", o->idle_timeout,
                 "a connection is closed when no request began within this many seconds")
      ->type_name("SECONDS")
      ->check(in_range(1, int_max))
      ->capture_default_str();
  cmd.add_option("--header-timeout", o->header_timeout,
                 "a connection is closed when a request's header did not arrive whole within "
                 "this many seconds of its first byte")
      ->type_name("SECONDS")
      ->check(in_range(1, int_max))
      ->capture_default_str();
  const std::string knobs = "Test knobs";
  cmd.add_option("--status", o->status, "answer valid webhooks with CODE instead of 204")
      ->type_name("CODE")
      ->check(in_range(100, 599))
      ->group(knobs);
  cmd.add_option("--fail-every", o->fail_every, "answer every Nth valid webhook with 500")
      ->check(in_range(0, int_max))
      ->group(knobs);
  cmd.add_option("--delay-ms", o->delay_ms, "wait N ms before answering each request")
      ->check(in_range(0, int_max))
      ->group(knobs);
}

}  // namespace tresse::cli
