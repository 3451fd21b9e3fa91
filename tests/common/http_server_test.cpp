// tresse::http::server over real sockets: keep-alive, limits, timeouts, errors, graceful stop.
#include "tresse/common/http_server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "support/http_client.hpp"
#include "support/idle_flood.hpp"
#include "support/slow_client.hpp"

namespace tresse::http {
namespace {

using namespace std::chrono_literals;
namespace bhttp = boost::beast::http;
using test::http_client;

// Echoes method, target and body; "/slow" waits 1.5 s first (long enough for a loaded machine), "/throw" throws.
boost::asio::awaitable<response> echo(request& req) {
  if (req.target() == "/slow") {
    boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, 1500ms);
    co_await t.async_wait(boost::asio::use_awaitable);
  }
  if (req.target() == "/throw") throw std::runtime_error("handler bug");
  response res{bhttp::status::ok, req.version()};
  res.set(bhttp::field::content_type, "text/plain");
  res.body() = std::string(req.method_string()) + " " + std::string(req.target()) + " " + req.body();
  co_return res;
}

server start(server_options options = {}) {
  auto s = server::start(std::move(options), echo);
  if (!s) throw std::runtime_error(s.error().message);
  return std::move(*s);
}

TEST(HttpServerTest, ServesOnAnEphemeralPort) {
  auto s = start();
  ASSERT_NE(s.port(), 0);
  http_client client("127.0.0.1", s.port());
  auto reply = client.post("/hello", {}, "world");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "POST /hello world");
  EXPECT_EQ(reply.header("content-length"), "17");
}

TEST(HttpServerTest, ClosesConnectionsBeyondItsCapAndServesAgainOnceOneCloses) {
  auto s = start({.max_connections = 2});
  auto a = std::make_unique<http_client>("127.0.0.1", s.port());
  http_client b("127.0.0.1", s.port());
  EXPECT_EQ(a->request("GET", "/a", {}, "").status, 200);
  EXPECT_EQ(b.request("GET", "/b", {}, "").status, 200);
  // A third while two are open: accepted and closed at once, without an answer.
  http_client c("127.0.0.1", s.port());
  EXPECT_THROW(c.request("GET", "/c", {}, ""), std::exception);
  // Once one of the two closes, a new connection is served again.
  a.reset();
  bool served = false;
  for (int i = 0; i < 100 && !served; ++i) {
    try {
      http_client d("127.0.0.1", s.port());
      served = d.request("GET", "/d", {}, "").status == 200;
    } catch (const std::exception&) {
      std::this_thread::sleep_for(20ms);  // the server has not seen the close yet
    }
  }
  EXPECT_TRUE(served);
}

TEST(HttpServerTest, LetsInExactlyItsCapFromABurstOfConnections) {
  auto s = start({.threads = 2, .max_connections = 8});
  test::idle_flood flood("127.0.0.1", s.port(), 100);
  ASSERT_EQ(flood.count(), 100u);
  // Accepts that complete before their connections start must not overshoot the cap.
  for (int i = 0; i < 500 && flood.closed_by_peer() < 92; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(flood.closed_by_peer(), 92u);
}

TEST(HttpServerTest, KeepsTheConnectionAlive) {
  auto s = start();
  http_client client("127.0.0.1", s.port());
  for (int i = 0; i < 10; ++i) {
    auto reply = client.request("GET", "/" + std::to_string(i), {}, "");
    EXPECT_EQ(reply.body, "GET /" + std::to_string(i) + " ");
    EXPECT_TRUE(reply.keep_alive);
  }
  EXPECT_EQ(s.requests_served(), 10u);
}

TEST(HttpServerTest, ClosesWhenTheClientAsksTo) {
  auto s = start();
  http_client client("127.0.0.1", s.port());
  auto reply = client.request("GET", "/", {{"connection", "close"}}, "");
  EXPECT_EQ(reply.status, 200);
  EXPECT_FALSE(reply.keep_alive);
  EXPECT_TRUE(client.closed_by_peer());
}

TEST(HttpServerTest, AnswersPipelinedRequestsInOrder) {
  auto s = start();
  http_client client("127.0.0.1", s.port());
  client.write_raw(
      "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
      "GET /c HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(client.read_reply().body, "GET /slow ");
  EXPECT_EQ(client.read_reply().body, "POST /b abc");
  EXPECT_EQ(client.read_reply().body, "GET /c ");
}

TEST(HttpServerTest, AnswersHeadWithoutABody) {
  auto s = start();
  http_client client("127.0.0.1", s.port());
  auto reply = client.request("HEAD", "/x", {}, "");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.header("content-length"), "8");  // as "HEAD /x "
  EXPECT_EQ(client.request("GET", "/y", {}, "").body, "GET /y ");  // framing intact
}

TEST(HttpServerTest, AnswersAnOversizedBodyWith413AndCloses) {
  auto s = start({.body_limit = 1000});
  http_client client("127.0.0.1", s.port());
  EXPECT_EQ(client.post("/", {}, std::string(1000, 'x')).status, 200);
  auto reply = client.post("/", {}, std::string(1001, 'x'));
  EXPECT_EQ(reply.status, 413);
  EXPECT_NE(reply.body.find("payload_too_large"), std::string::npos) << reply.body;
  EXPECT_TRUE(client.closed_by_peer());
}

TEST(HttpServerTest, AnswersOversizedHeadersWith431) {
  auto s = start({.header_limit = 1024});
  http_client client("127.0.0.1", s.port());
  EXPECT_EQ(client.post("/", {{"x-big", std::string(2000, 'a')}}, "").status, 431);
}

TEST(HttpServerTest, AnswersGarbageWith400) {
  auto s = start();
  http_client client("127.0.0.1", s.port());
  client.write_raw("NOT HTTP AT ALL\r\n\r\n");
  EXPECT_EQ(client.read_reply().status, 400);
}

TEST(HttpServerTest, AnswersAThrowingHandlerWith500) {
  auto s = start();
  http_client client("127.0.0.1", s.port());
  EXPECT_EQ(client.request("GET", "/throw", {}, "").status, 500);
}

TEST(HttpServerTest, ClosesIdleConnectionsAfterTheIdleTimeout) {
  auto s = start({.idle_timeout = 200ms});
  http_client client("127.0.0.1", s.port());
  EXPECT_EQ(client.request("GET", "/", {}, "").status, 200);
  auto begin = std::chrono::steady_clock::now();
  EXPECT_TRUE(client.closed_by_peer(10s));
  EXPECT_GE(std::chrono::steady_clock::now() - begin, 150ms);
}

TEST(HttpServerTest, ClosesARequestThatStallsHalfway) {
  auto s = start({.read_timeout = 200ms});
  http_client client("127.0.0.1", s.port());
  client.write_raw("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
  EXPECT_TRUE(client.closed_by_peer(10s));
}

// A header of `n` bytes that never ends (no blank line), for slowloris clients.
std::string endless_header(std::size_t n) {
  return "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(n, 'a');
}

TEST(HttpServerTest, ClosesAHeaderTricklingPastTheHeaderTimeoutWhateverTheIdleTimeout) {
  auto s = start({.idle_timeout = 30s, .header_timeout = 400ms});
  // A byte every 50 ms beats any idle timeout; 200 bytes would take 10 s.
  auto closed_after = test::trickle_until_closed("127.0.0.1", s.port(), "", endless_header(200),
                                                 50ms);
  ASSERT_TRUE(closed_after) << "never closed";
  EXPECT_GE(*closed_after, 300ms);
  EXPECT_LT(*closed_after, 5s);
  http_client client("127.0.0.1", s.port());
  EXPECT_EQ(client.request("GET", "/after", {}, "").status, 200);
}

TEST(HttpServerTest, GivesAHeaderItsHeaderTimeoutEvenPastTheIdleTimeout) {
  auto s = start({.idle_timeout = 200ms, .header_timeout = 10s});
  http_client client("127.0.0.1", s.port());
  // 1.2 s for the whole header, six idle timeouts: the header timeout counts from its first byte.
  for (char byte : std::string("GET /slowly HTTP/1.1\r\nHost: x\r\n\r\n")) {
    client.write_raw(std::string(1, byte));
    std::this_thread::sleep_for(35ms);
  }
  EXPECT_EQ(client.read_reply().body, "GET /slowly ");
}

TEST(HttpServerTest, WaitsTheIdleTimeoutNotTheHeaderTimeoutForARequestToBegin) {
  auto s = start({.idle_timeout = 5s, .header_timeout = 200ms});
  http_client client("127.0.0.1", s.port());
  std::this_thread::sleep_for(700ms);  // before the first request
  EXPECT_EQ(client.request("GET", "/1", {}, "").status, 200);
  std::this_thread::sleep_for(700ms);  // between two on a keep-alive connection
  EXPECT_EQ(client.request("GET", "/2", {}, "").status, 200);
}

TEST(HttpServerTest, ClosesABodyTricklingPastTheReadTimeout) {
  auto s = start({.header_timeout = 10s, .read_timeout = 400ms});
  auto closed_after = test::trickle_until_closed(
      "127.0.0.1", s.port(), "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n",
      std::string(200, 'b'), 50ms);
  ASSERT_TRUE(closed_after) << "never closed";
  EXPECT_GE(*closed_after, 300ms);
  EXPECT_LT(*closed_after, 5s);
}

TEST(HttpServerTest, AtItsCapClosesTheLongestIdleConnectionToAdmitANewOne) {
  auto s = start({.max_connections = 2, .close_idle_when_full = true});
  http_client a("127.0.0.1", s.port());
  EXPECT_EQ(a.request("GET", "/a", {}, "").status, 200);
  std::this_thread::sleep_for(50ms);
  http_client b("127.0.0.1", s.port());
  EXPECT_EQ(b.request("GET", "/b", {}, "").status, 200);
  // Full of idle keep-alive connections: a third gets in at once, in place of the oldest.
  http_client c("127.0.0.1", s.port());
  EXPECT_EQ(c.request("GET", "/c", {}, "").status, 200);
  EXPECT_TRUE(a.closed_by_peer());
  // b was more recently busy: it is the next to go, not yet.
  EXPECT_EQ(b.request("GET", "/b2", {}, "").status, 200);
  http_client d("127.0.0.1", s.port());
  EXPECT_EQ(d.request("GET", "/d", {}, "").status, 200);
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_EQ(b.request("GET", "/b3", {}, "").status, 200);
}

TEST(HttpServerTest, AtItsCapRefusesANewConnectionWhenEveryOneIsMidRequest) {
  auto s = start({.header_timeout = 10s, .max_connections = 2, .close_idle_when_full = true});
  http_client a("127.0.0.1", s.port());
  http_client b("127.0.0.1", s.port());
  a.write_raw("GET /a HTTP/1.1\r\n");
  b.write_raw("GET /b HTTP/1.1\r\n");
  std::this_thread::sleep_for(200ms);  // let the server read both first lines
  http_client c("127.0.0.1", s.port());
  EXPECT_THROW(c.request("GET", "/c", {}, ""), std::exception);
  // a finishes its request and is idle again: now it makes room.
  a.write_raw("Host: x\r\n\r\n");
  EXPECT_EQ(a.read_reply().body, "GET /a ");
  http_client d("127.0.0.1", s.port());
  EXPECT_EQ(d.request("GET", "/d", {}, "").status, 200);
  EXPECT_TRUE(a.closed_by_peer());
  b.write_raw("Host: x\r\n\r\n");
  EXPECT_EQ(b.read_reply().body, "GET /b ");
}

TEST(HttpServerTest, KeepsItsCapAfterAFloodOfIdleConnectionsWasShed) {
  auto s = start({.threads = 2, .max_connections = 8, .close_idle_when_full = true});
  {
    test::idle_flood flood("127.0.0.1", s.port(), 100);
    ASSERT_EQ(flood.count(), 100u);
    for (int i = 0; i < 500 && flood.closed_by_peer() < 92; ++i) std::this_thread::sleep_for(20ms);
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(flood.closed_by_peer(), 92u);  // each newcomer took the oldest's place: 8 held
  }
  // Once the flood is gone, 8 clients are held at once again: none of them pushes another out.
  std::this_thread::sleep_for(200ms);
  std::vector<std::unique_ptr<http_client>> clients;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(std::make_unique<http_client>("127.0.0.1", s.port()));
    EXPECT_EQ(clients.back()->request("GET", "/", {}, "").status, 200) << i;
  }
  for (int i = 0; i < 8; ++i) EXPECT_EQ(clients[i]->request("GET", "/", {}, "").status, 200) << i;
}

TEST(HttpServerTest, ReportsAPortInUse) {
  auto first = start();
  auto second = server::start({.port = first.port()}, echo);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find(std::to_string(first.port())), std::string::npos)
      << second.error().message;
}

TEST(HttpServerTest, RejectsAnEmptyHandler) { EXPECT_FALSE(server::start({}, handler{})); }

TEST(HttpServerTest, ServesManyConnectionsOnSeveralThreads) {
  auto s = start({.threads = 2});
  std::vector<std::future<int>> done;
  for (int c = 0; c < 8; ++c) {
    done.push_back(std::async(std::launch::async, [&s, c] {
      http_client client("127.0.0.1", s.port());
      int ok = 0;
      for (int i = 0; i < 50; ++i) {
        std::string body = std::to_string(c) + "-" + std::to_string(i);
        ok += client.post("/", {}, body).body == "POST / " + body;
      }
      return ok;
    }));
  }
  int total = 0;
  for (auto& f : done) total += f.get();
  EXPECT_EQ(total, 400);
}

TEST(HttpServerTest, StopFinishesRequestsInProgressAndClosesIdleOnes) {
  auto s = start();
  http_client idle("127.0.0.1", s.port());
  EXPECT_EQ(idle.request("GET", "/", {}, "").status, 200);
  std::atomic<bool> sent{false};
  auto slow = std::async(std::launch::async, [&] {
    http_client client("127.0.0.1", s.port());
    client.write_raw("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    sent = true;
    return client.read_reply();
  });
  while (!sent) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(100ms);  // let the server read it (the handler waits 1.5 s)
  auto begin = std::chrono::steady_clock::now();
  s.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 4s);  // not the 5 s drain deadline
  auto reply = slow.get();
  EXPECT_EQ(reply.status, 200);
  EXPECT_FALSE(reply.keep_alive);
  EXPECT_TRUE(idle.closed_by_peer());
  s.stop();  // idempotent
}

TEST(HttpServerTest, StopCutsOffHandlersPastTheDrainTimeout) {
  auto s = start({.drain_timeout = 50ms});
  auto slow = std::async(std::launch::async, [&] {
    http_client client("127.0.0.1", s.port());
    client.write_raw("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    return client.closed_by_peer(10s);
  });
  std::this_thread::sleep_for(100ms);
  s.stop();
  EXPECT_TRUE(slow.get());
}

}  // namespace
}  // namespace tresse::http
