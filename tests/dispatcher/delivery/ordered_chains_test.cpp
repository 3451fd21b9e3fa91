#include "delivery/ordered_chains.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace tresse::dispatcher {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

delivery make(const std::string& event, const std::string& resource = "apt_1",
              const std::string& endpoint = "we_1") {
  auto meta = std::make_shared<event_meta>();
  meta->id = event;
  meta->resource = resource;
  auto ep = std::make_shared<registry::endpoint>();
  ep->id = endpoint;
  return {meta, ep, std::make_shared<fanout>(), 0};
}

std::vector<std::string> ids(const std::vector<delivery>& ds) {
  std::vector<std::string> out;
  for (const auto& d : ds) out.push_back(d.meta->id);
  return out;
}

TEST(OrderedChainsTest, EventsBehindAFrontAreHeldInArrivalOrderPerResource) {
  ordered_chains c;
  const auto t = steady::now();
  auto e1 = make("evt_1");
  EXPECT_FALSE(c.hold(e1, t));  // no chain: entered as usual
  c.open(e1, t);
  auto e2 = make("evt_2"), e3 = make("evt_3"), other = make("evt_b1", "apt_b"),
       elsewhere = make("evt_1", "apt_1", "we_2");
  EXPECT_TRUE(c.hold(e2, t));
  EXPECT_TRUE(c.hold(e3, t));
  EXPECT_FALSE(c.hold(other, t));      // another resource
  EXPECT_FALSE(c.hold(elsewhere, t));  // another endpoint
  EXPECT_EQ(c.held_events(), 2u);
  ASSERT_NE(c.next("we_1", *e1.meta), nullptr);
  EXPECT_EQ(c.next("we_1", *e1.meta)->d.meta->id, "evt_2");
  // Only the front sees what it fronts.
  EXPECT_EQ(c.next("we_1", *make("evt_9").meta), nullptr);
  EXPECT_TRUE(c.close("we_1", *make("evt_9").meta).empty());
  EXPECT_EQ(c.held_events(), 2u);

  // A pass: evt_2 fronts the chain now; evt_3 still behind it.
  delivery d2 = c.advance("we_1", *e1.meta);
  EXPECT_EQ(d2.meta->id, "evt_2");
  EXPECT_EQ(c.next("we_1", *e1.meta), nullptr);
  EXPECT_EQ(c.next("we_1", *d2.meta)->d.meta->id, "evt_3");
  auto e4 = make("evt_4");
  EXPECT_TRUE(c.hold(e4, t));
  EXPECT_EQ(ids(c.close("we_1", *d2.meta)), (std::vector<std::string>{"evt_3", "evt_4"}));
  EXPECT_EQ(c.held_events(), 0u);
  EXPECT_EQ(c.chains(), 0u);
  auto e5 = make("evt_5");
  EXPECT_FALSE(c.hold(e5, t));  // closed: the next arrival is entered
}

TEST(OrderedChainsTest, AHoldThatLastedTheTimeoutEndsUnlessAPassIsUnderWay) {
  ordered_chains c;
  const auto t = steady::now();
  auto a1 = make("evt_a1", "apt_a"), b1 = make("evt_b1", "apt_b"), c1 = make("evt_c1", "apt_c");
  c.open(a1, t);
  c.open(b1, t);
  c.open(c1, t);  // nothing held: never stale
  auto a2 = make("evt_a2", "apt_a"), a3 = make("evt_a3", "apt_a"), b2 = make("evt_b2", "apt_b");
  c.hold(a2, t);
  c.hold(a3, t + 4s);
  c.hold(b2, t);
  c.set_passing("we_1", *b1.meta, true);
  EXPECT_TRUE(c.close_stale(t + 4s, 5s).empty());
  auto stale = c.close_stale(t + 5s, 5s);
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_EQ(ids(stale[0]), (std::vector<std::string>{"evt_a2", "evt_a3"}));
  EXPECT_EQ(c.held_events(), 1u);
  EXPECT_EQ(c.chains(), 2u);
  c.set_passing("we_1", *b1.meta, false);
  EXPECT_EQ(c.close_stale(t + 5s, 5s).size(), 1u);
  EXPECT_EQ(c.chains(), 1u);  // c1's: its front is still out
}

TEST(OrderedChainsTest, APassRenewsTheNumberingsTtlOnceADay) {
  ordered_chains c;
  const auto t = steady::now();
  auto e1 = make("evt_1");
  c.open(e1, t);
  EXPECT_FALSE(c.ttl_due("we_1", *e1.meta, t + 23h));
  EXPECT_TRUE(c.ttl_due("we_1", *e1.meta, t + 24h));
  c.ttl_renewed("we_1", *e1.meta, t + 24h);
  EXPECT_FALSE(c.ttl_due("we_1", *e1.meta, t + 25h));
}

}  // namespace
}  // namespace tresse::dispatcher
