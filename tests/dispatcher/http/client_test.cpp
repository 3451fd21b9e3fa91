#include "http/client.hpp"
#include "http/client_identity.hpp"
#include "support/connect_proxy.hpp"
#include "support/local_server.hpp"
#include "support/test_pki.hpp"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace tresse::dispatcher::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Polls `done` until it holds or `timeout` passes; generous for a loaded machine.
template <class F>
bool eventually(F done, std::chrono::milliseconds timeout = 10s) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

using test::local_server;
using test::test_pki;
using reply = local_server::reply;
using then = local_server::reply::then;

// A server that answers each request with bytes exactly as given, for the framings the
// Beast-based local_server does not produce: chunked bodies, interim responses, a body that
// runs to the close, a response that stops half-way.
class raw_server {
 public:
  struct answer {
    std::string bytes;
    bool close = false;  // close the connection after the answer
    bool hang = false;   // keep it open and silent after the answer
  };
  using handler = std::function<answer(int request)>;  // 1-based over all connections

  explicit raw_server(handler h)
      : handler_(std::move(h)), acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~raw_server() {
    ioc_.stop();
    thread_.join();
  }

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/hook";
  }
  int connections() const { return connections_.load(); }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
      if (ec) co_return;
      ++connections_;
      asio::co_spawn(ioc_, session(std::move(socket)), asio::detached);
    }
  }

  // Reads one request at a time (the head, then Content-Length bytes) and answers it.
  asio::awaitable<void> session(tcp::socket socket) {
    std::string in;
    char buf[4096];
    for (;;) {
      std::size_t head_end = 0;
      while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
        auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf), use_tuple);
        if (ec) co_return;
        in.append(buf, n);
      }
      std::size_t length = 0;
      if (auto at = in.find("Content-Length: "); at < head_end) length = std::stoul(in.substr(at + 16));
      while (in.size() < head_end + 4 + length) {
        auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf), use_tuple);
        if (ec) co_return;
        in.append(buf, n);
      }
      in.erase(0, head_end + 4 + length);
      const answer a = handler_(++requests_);
      auto [ec, n] = co_await asio::async_write(socket, asio::buffer(a.bytes), use_tuple);
      if (ec || a.close) co_return;
      if (a.hang) {
        asio::steady_timer never(ioc_, std::chrono::hours(1));
        co_await never.async_wait(use_tuple);
        co_return;
      }
    }
  }

  handler handler_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<int> connections_{0};
  int requests_ = 0;  // the server's thread only
};

// ---- the tests ---------------------------------------------------------------------------

class ClientTest : public ::testing::Test {
 protected:
  // Private networks allowed: every server here is on 127.0.0.1.
  static client_options local_options() {
    client_options o;
    o.allow_private_networks = true;
    o.connect_timeout = 5s;
    o.total_timeout = 10s;
    return o;
  }

  static request make_request(std::string url, std::string body = R"({"id":"evt_1"})") {
    request r;
    r.url = std::move(url);
    r.body = std::make_shared<const std::string>(std::move(body));
    r.headers.add("content-type", "application/json").add("webhook-id", "evt_1");
    return r;
  }

  // Runs one post to completion on ioc_ (run_one: the pool's sweep timer may stay armed).
  std::expected<response, failure> post(client& c, request r) {
    return run_post(c.post(std::move(r)));
  }
  // The same to a prepared target.
  std::expected<response, failure> post_to(client& c, const target& to, const request& r) {
    return run_post(c.post(to, r.headers, *r.body));
  }
  std::expected<response, failure> run_post(
      asio::awaitable<std::expected<response, failure>> posting) {
    std::optional<std::expected<response, failure>> out;
    ioc_.restart();  // a previous run may have run out of work, which stops the context
    asio::co_spawn(ioc_, std::move(posting),
                   [&](std::exception_ptr e, std::expected<response, failure> result) {
                     if (e) std::rethrow_exception(e);
                     out = std::move(result);
                   });
    while (!out) {
      if (ioc_.run_one() == 0) {
        ADD_FAILURE() << "post never completed";
        return std::unexpected(failure{});
      }
    }
    return *std::move(out);
  }

  // One post, and how long it took.
  std::pair<std::expected<response, failure>, std::chrono::steady_clock::duration> timed_post(
      client& c, request r) {
    const auto start = std::chrono::steady_clock::now();
    auto result = post(c, std::move(r));
    return {std::move(result), std::chrono::steady_clock::now() - start};
  }

  // Through `proxy`, trusting the test CA.
  client_options through(const test::connect_proxy& proxy) {
    auto o = local_options();
    o.ca_file = pki_.ca_file();
    o.proxy = proxy.url();
    return o;
  }

  // Keeps ioc_ turning until `done` (timers of the client need it).
  template <class F>
  bool run_until(F done, std::chrono::milliseconds timeout = 10s) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() > until) return false;
      ioc_.restart();
      ioc_.run_for(5ms);
    }
    return true;
  }

  asio::io_context ioc_;
  test_pki pki_;
};

TEST_F(ClientTest, PostsHeadersAndBodyExactlyAndReadsTheResponse) {
  local_server server([](const local_server::received&) {
    return reply{202, {{"content-type", "text/plain"}, {"x-ignored", "1"}}, "accepted!"};
  });
  client c(ioc_, local_options());
  const std::string body = R"({"id":"evt_2Hq9x7LmQ","type":"appointment.created","data":{}})";
  request req = make_request(server.url("/hooks/a?x=1"), body);
  req.headers.add("webhook-signature", "v1,abc=");
  req.headers.add("Host", "evil.example");    // the client's own
  req.headers.add("User-Agent", "curl/8.0");  // the client's own

  auto r = post(c, req);

  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 202u);
  EXPECT_EQ(r->body_snippet, "accepted!");
  EXPECT_FALSE(r->body_truncated);
  EXPECT_EQ(r->header("content-type"), "text/plain");
  EXPECT_EQ(r->header("x-ignored"), "");
  EXPECT_GT(r->latency.count(), 0);
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/hooks/a?x=1");
  EXPECT_EQ(seen[0].body, body);
  EXPECT_EQ(seen[0].headers.at("content-type"), "application/json");
  EXPECT_EQ(seen[0].headers.at("webhook-id"), "evt_1");
  EXPECT_EQ(seen[0].headers.at("webhook-signature"), "v1,abc=");
  EXPECT_EQ(seen[0].headers.at("content-length"), std::to_string(body.size()));
  EXPECT_EQ(seen[0].headers.at("host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(seen[0].headers.at("user-agent"), "Tresse-Webhooks/" TRESSE_VERSION);
  EXPECT_EQ(seen[0].headers.count("transfer-encoding"), 0u);
}

TEST_F(ClientTest, SendsAnEmptyBodyWhenNoneIsGiven) {
  local_server server;
  client c(ioc_, local_options());
  auto r = post(c, {server.url(), {}, nullptr});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].headers.at("content-length"), "0");
}

TEST_F(ClientTest, ReusesOneKeepAliveConnectionForSequentialPosts) {
  local_server server;
  client c(ioc_, local_options());
  for (int i = 0; i < 5; ++i) {
    auto r = post(c, make_request(server.url()));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200u);
  }
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(server.requests().back().index_on_conn, 5);
  EXPECT_EQ(c.stats().connections_opened, 1u);
  EXPECT_EQ(c.stats().connections_reused, 4u);
  EXPECT_EQ(c.stats().idle_connections, 1u);
}

TEST_F(ClientTest, ReconnectsWhenTheServerClosedAnIdleConnection) {
  local_server server([](const local_server::received&) {
    return reply{200, {}, "ok", then::close};
  });
  client c(ioc_, local_options());
  ASSERT_TRUE(post(c, make_request(server.url())));
  ASSERT_TRUE(eventually([&] { return server.open_connections() == 0; }));
  // Idle past the client's unchecked window (20 ms): it asks the kernel before reusing it.
  std::this_thread::sleep_for(30ms);

  auto r = post(c, make_request(server.url()));

  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(server.requests().size(), 2u);
  EXPECT_EQ(c.stats().stale_retries, 0u);  // the closed connection was never written to
}

TEST_F(ClientTest, AConnectionClosedJustAfterItsResponseIsReplacedWithoutLosingTheRequest) {
  // Reused at once, inside the unchecked window: the request meets the close and goes once
  // more on a fresh connection.
  local_server server([](const local_server::received& r) {
    return r.index_on_conn == 1 ? reply{200, {}, "ok", then::close} : reply{};
  });
  client c(ioc_, local_options());
  for (int i = 0; i < 20; ++i) {
    auto r = post(c, make_request(server.url()));
    ASSERT_TRUE(r) << "post " << i << ": " << r.error().message;
    EXPECT_EQ(r->status, 200u);
  }
  EXPECT_EQ(server.requests().size(), 20u);  // none lost, none twice
  EXPECT_EQ(server.connections(), 20);
}

TEST_F(ClientTest, ResendsOnceWhenAPooledConnectionDiesUnderTheRequest) {
  // The second request on a connection is read and dropped unanswered: the close raced it.
  local_server server([](const local_server::received& r) {
    return r.index_on_conn == 2 ? reply{200, {}, "", then::drop} : reply{};
  });
  client c(ioc_, local_options());
  ASSERT_TRUE(post(c, make_request(server.url())));

  auto r = post(c, make_request(server.url()));

  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(c.stats().stale_retries, 1u);
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(server.requests().size(), 3u);
}

TEST_F(ClientTest, DoesNotResendWhenAFreshConnectionCloses) {
  local_server server([](const local_server::received&) { return reply{200, {}, "", then::drop}; });
  client c(ioc_, local_options());

  auto r = post(c, make_request(server.url()));

  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, failure_kind::protocol);
  EXPECT_EQ(c.stats().stale_retries, 0u);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST_F(ClientTest, ConnectionRefusedIsAConnectFailure) {
  unsigned short port;
  {
    tcp::acceptor probe(ioc_, {asio::ip::make_address("127.0.0.1"), 0});
    port = probe.local_endpoint().port();
  }
  client c(ioc_, local_options());

  auto r = post(c, make_request("http://127.0.0.1:" + std::to_string(port) + "/"));

  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, failure_kind::connect);
  EXPECT_EQ(r.error().code, asio::error::connection_refused);
  EXPECT_NE(r.error().message.find("127.0.0.1"), std::string::npos);
}

TEST_F(ClientTest, SilentServerTimesOutWithinTheTotalTimeout) {
  local_server server([](const local_server::received&) { return reply{200, {}, "", then::hang}; });
  auto o = local_options();
  o.total_timeout = 300ms;
  client c(ioc_, o);

  auto [r, elapsed] = timed_post(c, make_request(server.url()));

  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, failure_kind::timeout);
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 5s);
  EXPECT_TRUE(eventually([&] { return server.open_connections() == 0; }));  // we hung up
}

TEST_F(ClientTest, ConnectTimeoutAppliesWhenTheListenQueueIsFull) {
  // A listener that never accepts, with its queue filled: further SYNs are dropped, so a
  // connect hangs, all on 127.0.0.1.
  tcp::acceptor full(ioc_);
  full.open(tcp::v4());
  full.bind({asio::ip::make_address("127.0.0.1"), 0});
  full.listen(0);
  std::vector<std::unique_ptr<tcp::socket>> fillers;
  for (int i = 0; i < 4; ++i) {
    auto s = std::make_unique<tcp::socket>(ioc_);
    s->async_connect(full.local_endpoint(), [](boost::system::error_code) {});
    fillers.push_back(std::move(s));
  }
  ioc_.run_for(100ms);
  auto o = local_options();
  o.connect_timeout = 200ms;
  o.total_timeout = 10s;
  client c(ioc_, o);

  const auto start = std::chrono::steady_clock::now();
  auto r = post(
      c, make_request("http://127.0.0.1:" + std::to_string(full.local_endpoint().port()) + "/"));
  const auto elapsed = std::chrono::steady_clock::now() - start;

  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, failure_kind::timeout) << r.error().message;
  EXPECT_LT(elapsed, 5s);
}

TEST_F(ClientTest, DoesNotFollowRedirects) {
  local_server server([&](const local_server::received&) {
    return reply{302, {{"location", "/elsewhere"}}, ""};
  });
  client c(ioc_, local_options());

  auto r = post(c, make_request(server.url("/hook")));

  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 302u);
  EXPECT_EQ(r->header("location"), "/elsewhere");
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].target, "/hook");
}

TEST_F(ClientTest, CapsTheResponseBodyAndDropsThatConnection) {
  local_server server([](const local_server::received&) {
    return reply{200, {}, std::string(1 << 20, 'x')};
  });
  client c(ioc_, local_options());

  auto r = post(c, make_request(server.url()));

  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body_snippet, std::string(4096, 'x'));
  EXPECT_TRUE(r->body_truncated);
  EXPECT_EQ(c.stats().idle_connections, 0u);
  ASSERT_TRUE(post(c, make_request(server.url())));
  EXPECT_EQ(server.connections(), 2);
}

TEST_F(ClientTest, KeepsTheConnectionWhenTheBodyFitsTheCap) {
  local_server server([](const local_server::received&) {
    return reply{200, {}, std::string(4096, 'y')};
  });
  client c(ioc_, local_options());
  auto r = post(c, make_request(server.url()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body_snippet.size(), 4096u);
  EXPECT_FALSE(r->body_truncated);
  ASSERT_TRUE(post(c, make_request(server.url())));
  EXPECT_EQ(server.connections(), 1);
}

TEST_F(ClientTest, ParsesRetryAfterAndTheDisableHeader) {
  local_server server([](const local_server::received&) {
    return reply{503, {{"retry-after", "7"}, {"webhook-delivery", "disable"}}, "busy"};
  });
  client c(ioc_, local_options());
  auto r = post(c, make_request(server.url()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503u);
  EXPECT_EQ(r->retry_after, std::chrono::seconds(7));
  EXPECT_EQ(r->header("webhook-delivery"), "disable");
}

TEST_F(ClientTest, RejectsAnOversizedResponseHeader) {
  local_server server([](const local_server::received&) {
    return reply{200, {{"x-padding", std::string(20000, 'p')}}, "ok"};
  });
  client c(ioc_, local_options());
  auto r = post(c, make_request(server.url()));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, failure_kind::protocol);
  EXPECT_NE(r.error().message.find("larger than"), std::string::npos);
}

TEST_F(ClientTest, RejectsInvalidUrlsWithoutConnecting) {
  client c(ioc_, local_options());
  for (const char* bad : {"ftp://127.0.0.1/", "http://user@127.0.0.1/", "not a url"}) {
    auto r = post(c, make_request(bad));
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().kind, failure_kind::invalid_url);
  }
  auto o = local_options();
  o.max_url_length = 30;
  client short_urls(ioc_, o);
  auto r = post(short_urls, make_request("http://127.0.0.1/" + std::string(20, 'a')));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, failure_kind::invalid_url);
  EXPECT_EQ(c.stats().connections_opened, 0u);
}

TEST(HeaderFieldsTest, KnownNamesWriteTheSameFieldsAndStillCheckTheirValues) {
  static constexpr header_fields::known id("webhook-id");
  header_fields by_name, known_name;
  by_name.add("webhook-id", "evt_1").add("tresse-event-type", "a.b");
  known_name.add(id, "evt_1").add(header_fields::known("tresse-event-type"), "a.b");
  EXPECT_EQ(known_name.wire(), by_name.wire());
  EXPECT_EQ(known_name.wire(), "webhook-id: evt_1\r\ntresse-event-type: a.b\r\n");
  EXPECT_TRUE(known_name.valid());
  // A value that would split the header is refused under a known name too.
  known_name.add(id, "evt_1\r\nx-injected: 1");
  EXPECT_FALSE(known_name.valid());
  EXPECT_EQ(known_name.invalid_name(), "webhook-id");
  EXPECT_EQ(known_name.wire().find("x-injected"), std::string_view::npos);
}

TEST_F(ClientTest, RejectsHeaderInjection) {
  local_server server;
  client c(ioc_, local_options());
  for (auto [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"x-a", "1\r\nx-injected: 2"}, {"x-a\r\nx-b", "1"}, {"", "1"}, {"x a", "1"}}) {
    request req = make_request(server.url());
    req.headers.add(name, value);
    auto r = post(c, req);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, failure_kind::invalid_request);
  }
  EXPECT_EQ(server.connections(), 0);
}

TEST_F(ClientTest, RefusesLoopbackByDefaultNamingTheAddress) {
  local_server server;
  client c(ioc_, client_options{});

  auto r = post(c, make_request(server.url()));

  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, failure_kind::blocked_address);
  EXPECT_NE(r.error().message.find("127.0.0.1"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("loopback"), std::string::npos);
  EXPECT_EQ(server.connections(), 0);
}

TEST_F(ClientTest, RefusesNamesAndMappedFormsThatLeadToLoopback) {
  local_server server;
  client c(ioc_, client_options{});
  auto by_name = post(c, make_request(server.url("/hook", "localhost")));
  ASSERT_FALSE(by_name);
  EXPECT_EQ(by_name.error().kind, failure_kind::blocked_address) << by_name.error().message;
  auto mapped = post(c, make_request(server.url("/hook", "[::ffff:127.0.0.1]")));
  ASSERT_FALSE(mapped);
  EXPECT_EQ(mapped.error().kind, failure_kind::blocked_address);
  EXPECT_EQ(server.connections(), 0);
}

TEST_F(ClientTest, AllowListAdmitsLoopback) {
  local_server server;
  client_options o;
  o.allow_list = {"127.0.0.0/8"};
  client c(ioc_, o);
  auto r = post(c, make_request(server.url()));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200u);
}

TEST_F(ClientTest, AllowPrivateNetworksAdmitsLoopbackByName) {
  local_server server;
  client c(ioc_, local_options());
  auto r = post(c, make_request(server.url("/hook", "localhost")));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(server.requests().at(0).headers.at("host"),
            "localhost:" + std::to_string(server.port()));
}

TEST_F(ClientTest, UnknownHostIsADnsFailure) {
  client c(ioc_, local_options());
  // A 64-octet label cannot be encoded in DNS: the resolver fails without sending a query,
  // so the test stays on this machine.
  auto r = post(c, make_request("http://" + std::string(64, 'a') + ".example/"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, failure_kind::dns) << r.error().message;
}

TEST_F(ClientTest, RejectsAMalformedAllowListAtConstruction) {
  client_options o;
  o.allow_list = {"10.0.0.0/99"};
  EXPECT_THROW((client{ioc_, o}), std::invalid_argument);
}

TEST_F(ClientTest, ManyConcurrentPostsToOneOriginAllSucceed) {
  local_server server;
  auto o = local_options();
  o.total_timeout = 60s;
  client c(ioc_, o);
  constexpr int kPosts = 200;
  int ok = 0;
  int done = 0;
  auto body = std::make_shared<const std::string>("{}");
  for (int i = 0; i < kPosts; ++i) {
    asio::co_spawn(ioc_, c.post({server.url(), {}, body}),
                   [&](std::exception_ptr, std::expected<response, failure> r) {
                     ++done;
                     if (r && r->status == 200) ++ok;
                   });
  }
  ASSERT_TRUE(run_until([&] { return done == kPosts; }, 60s));
  EXPECT_EQ(ok, kPosts);
  EXPECT_EQ(server.requests().size(), static_cast<std::size_t>(kPosts));
  EXPECT_LE(c.stats().idle_connections, 16u);  // max_idle_per_origin
  EXPECT_GE(c.stats().idle_connections, 1u);
}

TEST_F(ClientTest, ClosesConnectionsIdleLongerThanTheIdleTimeout) {
  local_server server;
  auto o = local_options();
  o.idle_timeout = 100ms;
  client c(ioc_, o);
  ASSERT_TRUE(post(c, make_request(server.url())));
  EXPECT_EQ(c.stats().idle_connections, 1u);

  ASSERT_TRUE(run_until([&] { return c.stats().idle_connections == 0; }));
  EXPECT_TRUE(eventually([&] { return server.open_connections() == 0; }));
}

TEST_F(ClientTest, CancellationEndsThePostWithoutThrowing) {
  local_server server([](const local_server::received&) { return reply{200, {}, "", then::hang}; });
  client c(ioc_, local_options());
  asio::cancellation_signal cancel;
  std::optional<std::expected<response, failure>> out;
  asio::co_spawn(ioc_, c.post(make_request(server.url())),
                 asio::bind_cancellation_slot(
                     cancel.slot(), [&](std::exception_ptr e, std::expected<response, failure> r) {
                       EXPECT_FALSE(e);
                       out = std::move(r);
                     }));
  ASSERT_TRUE(run_until([&] { return server.requests().size() == 1; }));
  cancel.emit(asio::cancellation_type::terminal);
  ASSERT_TRUE(run_until([&] { return out.has_value(); }));
  ASSERT_FALSE(*out);
  EXPECT_EQ(out->error().kind, failure_kind::cancelled) << out->error().message;
}

TEST_F(ClientTest, ReadsChunkedResponsesAndReusesTheirConnection) {
  raw_server server([](int) {
    return raw_server::answer{
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nok\r\n1\r\n!\r\n0\r\n\r\n"};
  });
  client c(ioc_, local_options());

  for (int i = 0; i < 2; ++i) {
    auto r = post(c, make_request(server.url()));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(r->body_snippet, "ok!");
    EXPECT_FALSE(r->body_truncated);
  }
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(c.stats().connections_reused, 1u);
}

TEST_F(ClientTest, SkipsInterimResponses) {
  raw_server server([](int) {
    return raw_server::answer{
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n"
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"};
  });
  client c(ioc_, local_options());

  auto r = post(c, make_request(server.url()));

  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 201u);
  EXPECT_EQ(r->body_snippet, "ok");
  EXPECT_EQ(c.stats().idle_connections, 1u);
}

TEST_F(ClientTest, EndlessInterimResponsesAreAProtocolFailure) {
  std::string interim;
  for (int i = 0; i < 20; ++i) interim += "HTTP/1.1 100 Continue\r\n\r\n";
  raw_server server([&](int) { return raw_server::answer{interim, false, true}; });
  client c(ioc_, local_options());

  auto r = post(c, make_request(server.url()));

  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, failure_kind::protocol);
  EXPECT_EQ(r.error().message, "too many interim responses");
}

TEST_F(ClientTest, ReadsABodyThatRunsToTheCloseAndDropsThatConnection) {
  raw_server server([](int) { return raw_server::answer{"HTTP/1.0 200 OK\r\n\r\nbye", true}; });
  client c(ioc_, local_options());

  for (int i = 0; i < 2; ++i) {
    auto r = post(c, make_request(server.url()));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->body_snippet, "bye");
    EXPECT_FALSE(r->body_truncated);
    EXPECT_EQ(c.stats().idle_connections, 0u);
  }
  EXPECT_EQ(server.connections(), 2);
}

TEST_F(ClientTest, ATimeoutInTheMiddleOfTheBodyKeepsTheStatus) {
  raw_server server([](int) {
    return raw_server::answer{"HTTP/1.1 503 Busy\r\nContent-Length: 10\r\n\r\nabc", false, true};
  });
  auto o = local_options();
  o.total_timeout = 300ms;
  client c(ioc_, o);

  auto [r, elapsed] = timed_post(c, make_request(server.url()));

  ASSERT_TRUE(r) << r.error().message;  // the endpoint answered: a response, not a timeout
  EXPECT_EQ(r->status, 503u);
  EXPECT_EQ(r->body_snippet, "abc");
  EXPECT_TRUE(r->body_truncated);
  EXPECT_EQ(c.stats().idle_connections, 0u);
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 5s);
}

TEST_F(ClientTest, AMalformedResponseIsAProtocolFailureThatIsNotResent) {
  raw_server server([](int) { return raw_server::answer{"SMTP ready\r\n\r\n", true}; });
  client c(ioc_, local_options());

  auto r = post(c, make_request(server.url()));

  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, failure_kind::protocol);
  EXPECT_EQ(r.error().message, "malformed response status line");
  EXPECT_EQ(server.connections(), 1);
}

// ---- TLS ---------------------------------------------------------------------------------

TEST_F(ClientTest, VerifiesAServerSignedByTheConfiguredCaAndSendsSni) {
  local_server server({}, pki_.server_context("DNS:localhost,IP:127.0.0.1"));
  auto o = local_options();
  o.ca_file = pki_.ca_file();
  client c(ioc_, o);

  for (int i = 0; i < 3; ++i) {
    auto r = post(c, make_request(server.url("/hook", "localhost")));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200u);
  }
  EXPECT_EQ(server.connections(), 1);  // keep-alive over TLS too
  EXPECT_EQ(server.server_names(), std::vector<std::string>{"localhost"});
}

TEST_F(ClientTest, PresentsTheTargetsClientCertificateOnlyToThatTarget) {
  local_server server({}, pki_.mtls_server_context("DNS:localhost,IP:127.0.0.1"));
  auto o = local_options();
  o.ca_file = pki_.ca_file();
  client c(ioc_, o);
  const auto [cert_pem, key_pem] = pki_.client_credentials("crm-client");
  auto id = client_identity::parse(cert_pem, key_pem);
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ((*id)->info().subject, "CN=crm-client");
  EXPECT_EQ((*id)->info().fingerprint_sha256.size(), 64u);
  EXPECT_GT((*id)->info().expires_at, std::chrono::system_clock::now() + 23h);

  const auto req = make_request(server.url("/hook", "localhost"));
  auto with = c.prepare(req.url, *id);
  ASSERT_TRUE(with);
  for (int i = 0; i < 2; ++i) {
    auto r = post_to(c, *with, req);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200u);
  }
  EXPECT_EQ(server.connections(), 1);  // pooled like any other
  EXPECT_EQ(server.client_names(), std::vector<std::string>{"crm-client"});

  // Another endpoint of the same origin without a certificate gets none, nor the pooled
  // connection that presented one: the server refuses it.
  auto without = c.prepare(req.url);
  ASSERT_TRUE(without);
  auto r = post_to(c, *without, req);
  EXPECT_FALSE(r);
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST_F(ClientTest, ClientCertificatesAreCheckedWhenParsed) {
  const auto [cert_pem, key_pem] = pki_.client_credentials("crm-client");
  const auto [other_cert, other_key] = pki_.client_credentials("someone-else");
  auto mismatch = client_identity::parse(cert_pem, other_key);
  ASSERT_FALSE(mismatch);
  EXPECT_NE(mismatch.error().message.find("does not match"), std::string::npos);
  EXPECT_FALSE(client_identity::parse("not a certificate", key_pem));
  EXPECT_FALSE(client_identity::parse(cert_pem, "not a key"));
  auto bad = client_identity::parse(cert_pem, "");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("field 'tls_client_certificate'"), std::string::npos);
  // A chain: the leaf first, then intermediates.
  auto chain = client_identity::parse(cert_pem + other_cert, key_pem);
  ASSERT_TRUE(chain) << chain.error().message;
  EXPECT_EQ((*chain)->info().subject, "CN=crm-client");
}

TEST_F(ClientTest, VerifiesAnIpLiteralAgainstTheIpSubjectAltName) {
  local_server server({}, pki_.server_context("DNS:localhost,IP:127.0.0.1"));
  auto o = local_options();
  o.ca_file = pki_.ca_file();
  client c(ioc_, o);
  auto r = post(c, make_request(server.url()));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(server.server_names(), std::vector<std::string>{""});  // no SNI for IP literals
}

TEST_F(ClientTest, RejectsACertificateFromAnUnknownCa) {
  local_server server({}, pki_.server_context("DNS:localhost,IP:127.0.0.1"));
  client c(ioc_, local_options());  // system store only
  auto r = post(c, make_request(server.url("/hook", "localhost")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, failure_kind::tls) << r.error().message;
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(ClientTest, RejectsAHostNameMismatch) {
  local_server server({}, pki_.server_context("DNS:other.example"));
  auto o = local_options();
  o.ca_file = pki_.ca_file();
  client c(ioc_, o);
  for (const char* host : {"localhost", "127.0.0.1"}) {
    auto r = post(c, make_request(server.url("/hook", host)));
    ASSERT_FALSE(r) << host;
    EXPECT_EQ(r.error().kind, failure_kind::tls) << r.error().message;
  }
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(ClientTest, VerificationCanBeSwitchedOffForTestsOnly) {
  local_server server({}, pki_.server_context("DNS:other.example"));
  auto o = local_options();
  EXPECT_TRUE(o.verify_tls);
  o.verify_tls = false;
  client c(ioc_, o);
  auto r = post(c, make_request(server.url()));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200u);
}

TEST_F(ClientTest, RejectsAnUnreadableCaFileAtConstruction) {
  auto o = local_options();
  o.ca_file = "/nonexistent/ca.pem";
  EXPECT_THROW((client{ioc_, o}), std::invalid_argument);
}

TEST_F(ClientTest, PlainHttpToATlsServerIsAProtocolFailure) {
  local_server server({}, pki_.server_context("DNS:localhost"));
  auto o = local_options();
  o.total_timeout = 2s;
  client c(ioc_, o);
  auto r = post(c, make_request("http://127.0.0.1:" + std::to_string(server.port()) + "/"));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().kind == failure_kind::protocol || r.error().kind == failure_kind::timeout)
      << r.error().message;
}

// ---- through the egress proxy (support/connect_proxy.hpp, a real CONNECT proxy) -----------

TEST_F(ClientTest, HttpsGoesThroughAConnectTunnelToTheCheckedAddressAndVerifiesTheEndpoint) {
  local_server server({}, pki_.server_context("DNS:localhost"));
  test::connect_proxy proxy;
  client c(ioc_, through(proxy));

  for (int i = 0; i < 2; ++i) {
    auto r = post(c, make_request(server.url("/hook", "localhost")));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200u);
  }
  // One tunnel, pooled per target like a direct connection; the proxy is asked for the address
  // the client resolved and checked (::1 first, maybe, which the proxy cannot reach: the server
  // is on 127.0.0.1 only, so the next address is asked for), and TLS inside names the endpoint
  // (SNI, certificate).
  EXPECT_EQ(proxy.connects(), 1);
  const auto lines = proxy.request_lines();
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), "CONNECT 127.0.0.1:" + std::to_string(server.port()) + " HTTP/1.1");
  for (const auto& line : lines) EXPECT_TRUE(line.starts_with("CONNECT ")) << line;
  EXPECT_EQ(proxy.authorizations()[0], "");
  EXPECT_EQ(server.server_names(), std::vector<std::string>{"localhost"});
  ASSERT_EQ(server.requests().size(), 2u);
  EXPECT_EQ(server.requests()[0].target, "/hook");
}

TEST_F(ClientTest, AWrongHostNameThroughTheTunnelFailsVerification) {
  local_server server({}, pki_.server_context("DNS:other.example"));
  test::connect_proxy proxy;
  client c(ioc_, through(proxy));

  auto r = post(c, make_request(server.url("/hook", "localhost")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, failure_kind::tls) << r.error().message;  // the endpoint's, as ever
  EXPECT_EQ(proxy.connects(), 1);
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(ClientTest, HttpTargetsAreSentToTheProxyInAbsoluteFormWithItsCredentials) {
  local_server server;
  // user "ops", password "p@ss:w" (percent-encoded in the URL).
  test::connect_proxy proxy({.required_authorization = "Basic b3BzOnBAc3M6dw=="});
  auto o = local_options();
  o.proxy = "http://ops:p%40ss%3Aw@127.0.0.1:" + std::to_string(proxy.port());
  client c(ioc_, o);

  auto r = post(c, make_request(server.url("/hook?x=1")));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(proxy.forwards(), 1);
  EXPECT_EQ(proxy.connects(), 0);
  ASSERT_EQ(proxy.request_lines().size(), 1u);
  EXPECT_EQ(proxy.request_lines()[0],
            "POST http://127.0.0.1:" + std::to_string(server.port()) + "/hook?x=1 HTTP/1.1");
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].body, R"({"id":"evt_1"})");
  EXPECT_EQ(server.requests()[0].headers.at("host"), "127.0.0.1:" + std::to_string(server.port()));
}

TEST_F(ClientTest, TheProxysCredentialsGoOnConnectAndA407IsTheProxysFailure) {
  local_server server({}, pki_.server_context("DNS:localhost"));
  test::connect_proxy proxy({.required_authorization = "Basic b3BzOnNlY3JldA=="});
  auto o = through(proxy);
  o.proxy = "http://ops:secret@127.0.0.1:" + std::to_string(proxy.port());
  client good(ioc_, o);
  auto r = post(good, make_request(server.url("/hook", "localhost")));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(proxy.authorizations()[0], "Basic b3BzOnNlY3JldA==");

  o.proxy = "http://ops:wrong@127.0.0.1:" + std::to_string(proxy.port());
  client bad(ioc_, o);
  auto refused = post(bad, make_request(server.url("/hook", "localhost")));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, failure_kind::proxy);
  EXPECT_NE(refused.error().message.find("407"), std::string::npos);
  EXPECT_EQ(refused.error().message.find("wrong"), std::string::npos) << "no credentials in logs";
  EXPECT_EQ(refused.error().message.find("b3Bz"), std::string::npos);

  // And for a plain-http target, whose answer comes from the proxy directly.
  auto plain = post(bad, make_request("http://127.0.0.1:" + std::to_string(server.port()) + "/"));
  ASSERT_FALSE(plain);
  EXPECT_EQ(plain.error().kind, failure_kind::proxy);
}

TEST_F(ClientTest, ADeadProxyIsTheProxysFailureNotTheEndpoints) {
  local_server server;
  unsigned short dead;
  {
    tcp::acceptor probe(ioc_, {asio::ip::make_address("127.0.0.1"), 0});
    dead = probe.local_endpoint().port();
  }
  auto o = local_options();
  o.proxy = "http://127.0.0.1:" + std::to_string(dead);
  client c(ioc_, o);
  for (const auto& url : {server.url(), std::string("https://localhost:") +
                                            std::to_string(server.port()) + "/"}) {
    auto r = post(c, make_request(url));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, failure_kind::proxy) << r.error().message;
    EXPECT_NE(r.error().message.find("proxy 127.0.0.1:" + std::to_string(dead)), std::string::npos)
        << r.error().message;
  }
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(ClientTest, ConnectAnswersSayWhoseFailureItIs) {
  for (const auto& [status, kind] : std::vector<std::pair<unsigned, failure_kind>>{
           {503, failure_kind::proxy}, {500, failure_kind::proxy}, {502, failure_kind::connect},
           {504, failure_kind::connect}, {403, failure_kind::connect}}) {
    test::connect_proxy proxy;
    proxy.refuse_with(status);
    auto o = local_options();
    o.proxy = proxy.url();
    client c(ioc_, o);
    auto r = post(c, make_request("https://localhost:9/"));
    ASSERT_FALSE(r) << status;
    EXPECT_EQ(r.error().kind, kind) << status << ": " << r.error().message;
  }
}

TEST_F(ClientTest, NoProxyTargetsGoDirect) {
  local_server server;
  test::connect_proxy proxy;
  auto o = local_options();
  o.proxy = proxy.url();
  o.no_proxy = {"127.0.0.0/8", "internal.example"};
  client c(ioc_, o);
  auto r = post(c, make_request(server.url()));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(proxy.connections(), 0);
  EXPECT_EQ(server.requests().size(), 1u);
  // The same URL is proxied by a client without the exception, pooled apart.
  auto direct = c.prepare(server.url());
  ASSERT_TRUE(direct);
  EXPECT_FALSE(direct->via_proxy);
  o.no_proxy = {};
  client proxied(ioc_, o);
  auto via = proxied.prepare(server.url());
  ASSERT_TRUE(via);
  EXPECT_TRUE(via->via_proxy);
  EXPECT_NE(via->origin, direct->origin);
}

TEST_F(ClientTest, TheSsrfGuardRefusesInternalTargetsBeforeAnyConnect) {
  local_server server({}, pki_.server_context("DNS:localhost"));
  test::connect_proxy proxy;  // on 127.0.0.1: ops' choice, allowed although internal
  client_options o = through(proxy);
  o.allow_private_networks = false;
  client guarded(ioc_, o);
  auto r = post(guarded, make_request(server.url("/hook", "localhost")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, failure_kind::blocked_address) << r.error().message;
  EXPECT_EQ(proxy.connections(), 0);

  // proxy_resolves: the name goes to the proxy unchecked (the proxy must filter), and the
  // proxy's own internal address is no obstacle.
  o.proxy_resolves = true;
  client trusting(ioc_, o);
  auto through = post(trusting, make_request(server.url("/hook", "localhost")));
  ASSERT_TRUE(through) << through.error().message;
  EXPECT_EQ(proxy.request_lines().at(0),
            "CONNECT localhost:" + std::to_string(server.port()) + " HTTP/1.1");
}

TEST_F(ClientTest, RejectsAMalformedProxyAtConstruction) {
  auto o = local_options();
  for (const char* bad : {"https://proxy:3128", "http://proxy", "proxy:3128", "http://p:3128/x"}) {
    o.proxy = bad;
    EXPECT_THROW((client{ioc_, o}), std::invalid_argument) << bad;
  }
}

}  // namespace
}  // namespace tresse::dispatcher::http
