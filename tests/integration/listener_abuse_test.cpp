// End to end: a flood of idle connections on the Management API or the admin listener, larger
// than the listener's cap, stops neither `/healthz` nor delivery; caps that would eat into the
// descriptor reserve are refused at start.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness.hpp"
#include "support/idle_flood.hpp"

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
  // The API is full: one more connection is closed without an answer.
  EXPECT_EQ(http_get(d.api_port(), "/v1/webhook_endpoints").first, 0u);

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
