// End to end: a flood of idle connections on the Management API or the admin listener, larger
// than the listener's cap, stops neither `/healthz` nor delivery; a full admin listener still
// answers probes, refusing only when every connection is mid-request; a slowloris header is cut
// off at the header timeout; caps that would eat into the descriptor reserve are refused at
// start.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "harness.hpp"
#include "support/http_client.hpp"
#include "support/idle_flood.hpp"
#include "support/slow_client.hpp"

namespace tresse::test {
namespace {

using namespace std::chrono_literals;

class ListenerAbuseTest : public integration_test {
 protected:
  // Publishes `n` events to biz_flood and expects the sink to get every one.
  void expect_deliveries(recording_sink& sink, int n) {
    std::vector<events::event> evs;
    for (int i = 0; i < n; ++i) evs.push_back(make_event("client.created", "biz_flood"));
    const auto before = sink.delivered_ids().size();
    publish(evs);
    EXPECT_TRUE(sink.wait_for_delivered(before + evs.size()))
        << sink.delivered_ids().size() - before << " of " << n << " delivered";
  }
};

TEST_F(ListenerAbuseTest, AFloodOnTheApiLeavesHealthzAndDeliveryAlone) {
  recording_sink sink;
  create_endpoint("biz_flood", sink.url(), "*");
  auto& d = start_dispatcher({"api.listen=127.0.0.1:0", "api.max_connections=64"});
  const auto admin = d.admin_port();
  ASSERT_EQ(http_get(admin, "/healthz").first, 200u);

  idle_flood flood("127.0.0.1", d.api_port(), 300);
  ASSERT_EQ(flood.count(), 300u);
  // 64 are held, the rest were closed at once rather than queued.
  EXPECT_TRUE(eventually_true([&] { return flood.closed_by_peer() >= 300 - 64; }))
      << flood.closed_by_peer() << " of 300 closed";
  // The API is full of idle connections: one more takes the place of the longest-idle one and
  // is answered at once (401: no key).
  EXPECT_EQ(http_get(d.api_port(), "/v1/webhooks").first, 401u);

  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(http_get(admin, "/healthz").first, 200u) << "round " << round;
    expect_deliveries(sink, 10);
  }
  EXPECT_EQ(http_get(admin, "/healthz").first, 200u);
}

TEST_F(ListenerAbuseTest, AFloodOnAdminIsShedAndHealthzAnswersOnceItsIdleConnectionsTimeOut) {
  recording_sink sink;
  create_endpoint("biz_flood", sink.url(), "*");
  auto& d = start_dispatcher({"admin.max_connections=16", "admin.idle_timeout=2s"});
  const auto admin = d.admin_port();
  ASSERT_EQ(http_get(admin, "/healthz").first, 200u);

  idle_flood flood("127.0.0.1", admin, 300);
  ASSERT_EQ(flood.count(), 300u);
  expect_deliveries(sink, 10);  // delivery goes on while the admin listener is full
  // The idle timeout closes even the connections that were let in, and a probe gets through.
  EXPECT_TRUE(eventually_true([&] { return flood.closed_by_peer() == 300; }))
      << flood.closed_by_peer() << " of 300 closed";
  EXPECT_TRUE(eventually_true([&] { return http_get(admin, "/healthz").first == 200u; }));
  expect_deliveries(sink, 10);
}

TEST_F(ListenerAbuseTest, AFullAdminListenerClosesAnIdleConnectionToAnswerAProbe) {
  auto& d = start_dispatcher({"admin.max_connections=16", "admin.idle_timeout=5m"});
  const auto admin = d.admin_port();
  idle_flood flood("127.0.0.1", admin, 16);
  ASSERT_EQ(flood.count(), 16u);
  std::this_thread::sleep_for(300ms);  // all 16 accepted: the listener is at its cap
  EXPECT_EQ(flood.closed_by_peer(), 0u);
  // Probes get in at once (the idle timeout is minutes away), each in place of the longest-idle
  // connection: a flood's, since the probes' own connections are kept open and are newer.
  std::vector<std::unique_ptr<http_client>> probes;
  for (const char* path : {"/healthz", "/readyz", "/metrics"}) {
    auto begin = std::chrono::steady_clock::now();
    probes.push_back(std::make_unique<http_client>("127.0.0.1", admin, 10s));
    EXPECT_EQ(probes.back()->request("GET", path, {}, "").status, 200u) << path;
    EXPECT_LT(std::chrono::steady_clock::now() - begin, 3s) << path;
  }
  EXPECT_TRUE(eventually_true([&] { return flood.closed_by_peer() == 3; }))
      << flood.closed_by_peer() << " of 16 closed";
  for (auto& probe : probes) EXPECT_EQ(probe->request("GET", "/healthz", {}, "").status, 200u);
  // Also during a flood far over the cap.
  idle_flood more("127.0.0.1", admin, 300);
  EXPECT_EQ(http_get(admin, "/healthz").first, 200u);
}

TEST_F(ListenerAbuseTest, AFullAdminListenerOfRequestsInProgressRefusesUntilTheHeaderTimeout) {
  auto& d = start_dispatcher(
      {"admin.max_connections=16", "admin.idle_timeout=5m", "admin.header_timeout=3s"});
  const auto admin = d.admin_port();
  // Every connection in the middle of a request: none may be closed to make room.
  idle_flood busy("127.0.0.1", admin, 16, "GET /healthz HTTP/1.1\r\n");
  ASSERT_EQ(busy.count(), 16u);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(http_get(admin, "/healthz").first, 0u);
  // Their header timeout ends them, and probes are answered again.
  EXPECT_TRUE(eventually_true([&] { return busy.closed_by_peer() == 16; }, 20s))
      << busy.closed_by_peer() << " of 16 closed";
  EXPECT_EQ(http_get(admin, "/healthz").first, 200u);
}

TEST_F(ListenerAbuseTest, ASlowlorisHeaderIsClosedAtTheHeaderTimeoutWhileHealthzAnswers) {
  auto& d = start_dispatcher({"api.listen=127.0.0.1:0", "api.header_timeout=2s"});
  const auto admin = d.admin_port();
  // One byte every 100 ms: far inside the API's 60 s idle timeout; 300 bytes would take 30 s.
  const std::string header = "GET /v1/webhook_endpoints HTTP/1.1\r\nHost: x\r\nX-Slow: " +
                             std::string(300, 'a');
  auto api = d.api_port();
  auto slow = std::async(std::launch::async, [api, &header] {
    return trickle_until_closed("127.0.0.1", api, "", header, 100ms);
  });
  int probes = 0;
  while (slow.wait_for(200ms) != std::future_status::ready) {
    EXPECT_EQ(http_get(admin, "/healthz").first, 200u) << "probe " << probes;
    ++probes;
  }
  auto closed_after = slow.get();
  ASSERT_TRUE(closed_after) << "the slow header was never cut off";
  EXPECT_GE(*closed_after, 1500ms);
  EXPECT_LT(*closed_after, 6s);
  EXPECT_GT(probes, 3);
}

TEST_F(ListenerAbuseTest, RefusesCapsThatEatIntoTheDescriptorReserve) {
  auto settings = base_settings();
  settings.insert(settings.end(), {"api.listen=127.0.0.1:0", "api.max_connections=1000000000"});
  std::vector<std::string> argv = {TRESSE_DISPATCHER_BIN, "run"};
  for (const auto& s : settings) argv.insert(argv.end(), {"--set", s});
  auto r = run_process(argv, {}, 60s);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("half of the descriptor limit"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tresse::test
