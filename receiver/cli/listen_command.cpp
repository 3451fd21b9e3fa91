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

#include "receiver/cli/args.hpp"
#include "receiver/cli/commands.hpp"
#include "tresse/common/http_server.hpp"
#include "tresse/receiver/replay_guard.hpp"
#include "tresse/receiver/verify.hpp"

namespace tresse::cli {

const char* const listen_help =
    R"(usage: tresse-webhook listen --port PORT (--secret KEY | --secret-file FILE)... [options]

Receives webhooks over HTTP/1.1 (keep-alive), verifies each one and prints one JSON line per
request on stdout:
  {"id":"evt_1","type":"appointment.created","outcome":"valid","timestamp":1776594720,
   "body_bytes":312,"status":204}
outcome is "valid" or the error code (no_matching_signature, timestamp_too_old, ...).
Answers 204 to valid webhooks, 401 with {"error":{"code","message","status"}} otherwise.
With --replay-guard, a validly signed webhook whose id was already accepted is a duplicate
(outcome "replayed"): at least once delivery sends some twice, so it is acknowledged with
200 {"duplicate":true} and not processed again (a 4xx would make the sender retry it).
The first line on stderr says where it listens. SIGINT/SIGTERM stop it.

  --port PORT         port to listen on; 0 picks a free one (printed on stderr)
  --host HOST         address to bind (default 127.0.0.1)
  --secret KEY        whsec_<base64>, whsk_<base64> or whpk_<base64>; repeat for rotation
  --secret-file FILE  secrets from FILE, one per line ('#' comments); repeatable
  --tolerance SECONDS accepted clock skew in both directions (default 300)
  --replay-guard      acknowledge a webhook-id seen before as a duplicate (see above)
  --quiet             print no per-request lines (benchmarks)
  --threads N         server threads (default 1)
  --max-connections N connections held open at once (default: the descriptor limit less 64
                      kept for the process itself, at least 16); past it a new connection
                      closes the longest-idle one, or is closed at once when none is idle
  --idle-timeout SECONDS  a connection is closed when no request began within this (default 60)
  --header-timeout SECONDS  a connection is closed when a request's header did not arrive
                      whole within this of its first byte (default 10)
Without --secret and --secret-file, the secrets come from TRESSE_WEBHOOK_SECRET (separated by
spaces), which keeps them off the command line, where ps shows them.
test knobs:
  --status CODE       answer valid webhooks with CODE instead of 204
  --fail-every N      answer every Nth valid webhook with 500
  --delay-ms N        wait N ms before answering each request
)";

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

}  // namespace

int listen_command(int argc, const char* const* argv) {
  auto opts = options::parse(argc, argv,
                             {"port", "host", "secret", "secret-file", "tolerance", "status",
                              "fail-every", "delay-ms", "threads", "max-connections",
                              "idle-timeout", "header-timeout"},
                             {"replay-guard", "quiet"});
  constexpr std::int64_t int_max = std::numeric_limits<std::int32_t>::max();
  auto keys = parse_secrets(opts);
  opts.required("port");

  http::server_options so;
  so.port = static_cast<std::uint16_t>(opts.integer("port", 0, 0, 65535));
  so.host = opts.optional("host").value_or("127.0.0.1");
  so.threads = static_cast<std::size_t>(opts.integer("threads", 1, 1, 64));
  so.max_connections = static_cast<std::size_t>(
      opts.integer("max-connections", default_connection_cap(), 1, int_max));
  so.idle_timeout = std::chrono::seconds(opts.integer("idle-timeout", 60, 1, int_max));
  so.header_timeout = std::chrono::seconds(opts.integer("header-timeout", 10, 1, int_max));
  so.close_idle_when_full = true;

  receiver::verifier_options vo;
  vo.tolerance = std::chrono::seconds(opts.integer("tolerance", vo.tolerance.count(), 0, int_max));
  if (opts.has("replay-guard")) vo.replay = std::make_shared<receiver::memory_replay_guard>();

  sink_options sink_opts;
  sink_opts.status = static_cast<unsigned>(opts.integer("status", 204, 100, 599));
  sink_opts.fail_every = opts.integer("fail-every", 0, 0, int_max);
  sink_opts.delay = std::chrono::milliseconds(opts.integer("delay-ms", 0, 0, int_max));
  sink_opts.quiet = opts.has("quiet");
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

}  // namespace tresse::cli
