#include "stats/accumulator.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "stats/series.hpp"

namespace tresse::dispatcher::stats {
namespace {

using namespace std::chrono_literals;
using clock = std::chrono::system_clock;

const clock::time_point t0 = clock::time_point(std::chrono::minutes(29000000));  // on a minute

// The pipeline's commands as (key, field) -> increment, and the keys given a PEXPIRE.
struct decoded {
  std::map<std::pair<std::string, std::string>, std::int64_t> incr;
  std::map<std::string, std::string> expire_ms;
};

// Reads the RESP bytes back (arrays of bulk strings only, as command_list writes them).
decoded decode(const redis::request& r) {
  decoded out;
  std::string_view s = r.commands.resp();
  auto line = [&s] {
    auto end = s.find("\r\n");
    std::string_view l = s.substr(0, end);
    s.remove_prefix(end + 2);
    return l;
  };
  while (!s.empty()) {
    const int n = std::stoi(std::string(line().substr(1)));
    std::vector<std::string> argv;
    for (int i = 0; i < n; ++i) {
      const auto len = std::stoul(std::string(line().substr(1)));
      argv.emplace_back(s.substr(0, len));
      s.remove_prefix(len + 2);
    }
    if (argv[0] == "HINCRBY") out.incr[{argv[1], argv[2]}] += std::stoll(argv[3]);
    if (argv[0] == "PEXPIRE") out.expire_ms[argv[1]] = argv[2];
  }
  return out;
}

TEST(AccumulatorTest, BucketsAreLogScaleWithAnOverflow) {
  EXPECT_EQ(latency_histogram::bucket_of(0ms), 0u);
  EXPECT_EQ(latency_histogram::bucket_of(1ms), 0u);
  EXPECT_EQ(latency_histogram::bucket_of(2ms), 1u);
  EXPECT_EQ(latency_histogram::bucket_of(100ms), 13u);  // (91, 128]
  EXPECT_EQ(latency_histogram::bucket_of(262144ms), latency_bounds_ms.size() - 1);
  EXPECT_EQ(latency_histogram::bucket_of(10h), latency_bounds_ms.size());  // overflow
  for (std::size_t i = 1; i < latency_bounds_ms.size(); ++i) {
    EXPECT_LT(latency_bounds_ms[i - 1], latency_bounds_ms[i]);
    EXPECT_LE(latency_bounds_ms[i], latency_bounds_ms[i - 1] * 3 / 2 + 1) << i;
  }
}

TEST(AccumulatorTest, PercentilesComeFromTheMergedHistogram) {
  latency_histogram a, b;
  EXPECT_FALSE(a.quantile_ms(0.5));
  for (int i = 0; i < 98; ++i) a.add(10ms);  // bucket (8, 11]
  b.add(1000ms);                              // (724, 1024]
  b.add(1000ms);
  a.merge(b);
  EXPECT_EQ(a.total(), 100);
  EXPECT_EQ(a.quantile_ms(0.5), 11);
  EXPECT_EQ(a.quantile_ms(0.98), 11);
  EXPECT_EQ(a.quantile_ms(0.99), 1024);  // the 99th of 100 is one of the slow two
  EXPECT_EQ(a.quantile_ms(1.0), 1024);
  latency_histogram slow;
  slow.add(10h);
  EXPECT_EQ(slow.quantile_ms(0.5), latency_bounds_ms.back());
}

TEST(AccumulatorTest, TakeSendsOneHashPerEndpointMinuteWithATtl) {
  accumulator acc;
  EXPECT_TRUE(acc.empty());
  acc.add("we_a", t0 + 1s, true, 10ms);
  acc.add("we_a", t0 + 59s, false, 500ms);
  acc.add("we_a", t0 + 61s, true, 10ms);      // the next minute
  acc.add("we_b", t0 + 2s, false, std::nullopt);  // no response: failed, no latency
  EXPECT_FALSE(acc.empty());
  const auto r = decode(acc.take(48h));
  EXPECT_TRUE(acc.empty());
  const std::string m0 = std::to_string(minute_of(t0)), m1 = std::to_string(minute_of(t0) + 1);
  const std::string a0 = "tresse:stats:{we_a}:" + m0, a1 = "tresse:stats:{we_a}:" + m1,
                    b0 = "tresse:stats:{we_b}:" + m0;
  const std::string all0 = "tresse:stats:{all}:" + m0, all1 = "tresse:stats:{all}:" + m1;
  std::map<std::pair<std::string, std::string>, std::int64_t> want = {
      {{a0, "d"}, 1}, {{a0, "f"}, 1}, {{a0, "h6"}, 1}, {{a0, "h17"}, 1},
      {{a1, "d"}, 1}, {{a1, "h6"}, 1},
      {{b0, "f"}, 1},
      // Every endpoint's, summed per minute (without latencies).
      {{all0, "d"}, 1}, {{all0, "f"}, 2}, {{all1, "d"}, 1}};
  EXPECT_EQ(r.incr, want);
  const std::string ttl = "172800000";
  EXPECT_EQ(r.expire_ms, (std::map<std::string, std::string>{
                             {a0, ttl}, {a1, ttl}, {b0, ttl}, {all0, ttl}, {all1, ttl}}));
  // Nothing new: nothing to send.
  EXPECT_TRUE(acc.take(48h).commands.empty());
}

TEST(AccumulatorTest, AHashReadBackIsWhatWasAdded) {
  redis::reply hash;
  hash.type = redis::reply::kind::array;
  using field = std::pair<const char*, const char*>;
  for (auto [f, v] : {field{"d", "7"}, field{"f", "2"}, field{"h6", "9"}, field{"h99", "5"},
                      field{"x", "1"}}) {
    redis::reply k, n;
    k.type = n.type = redis::reply::kind::string;
    k.str = f;
    n.str = v;
    hash.elements.push_back(k);
    hash.elements.push_back(n);
  }
  const minute_counts c = from_hash(hash);
  EXPECT_EQ(c.delivered, 7);
  EXPECT_EQ(c.failed, 2);
  EXPECT_EQ(c.latency.total(), 9);  // h99 is out of range, x unknown: ignored
  EXPECT_EQ(c.latency.quantile_ms(0.5), 11);
}

TEST(AccumulatorTest, WindowsAreAlignedBoundedAndExplained) {
  auto w = window_of(t0 + 30s, t0 + 1h + 30s, 60s);
  ASSERT_TRUE(w) << w.error();
  EXPECT_EQ(w->first_minute, minute_of(t0));
  EXPECT_EQ(w->steps, 61u);  // the minute holding since through the one holding until
  auto hourly = window_of(t0 - 24h, t0, 3600s);
  ASSERT_TRUE(hourly);
  EXPECT_EQ(hourly->first_minute % 60, 0);
  EXPECT_EQ(hourly->step_minutes, 60);
  EXPECT_GE(hourly->steps, 24u);
  EXPECT_LE(hourly->steps, 25u);
  EXPECT_NE(window_of(t0, t0 + 1h, 59s).error().find("step"), std::string::npos);
  EXPECT_NE(window_of(t0, t0 + 1h, 0s).error().find("step"), std::string::npos);
  EXPECT_NE(window_of(t0, t0 + 1h, 90000s).error().find("step"), std::string::npos);
  EXPECT_NE(window_of(t0, t0, 60s).error().find("since"), std::string::npos);
  EXPECT_NE(window_of(t0, t0 + 49h, 3600s).error().find("48 hours"), std::string::npos);
  EXPECT_NE(window_of(t0, t0 + 25h, 60s).error().find("1440 steps"), std::string::npos);
  EXPECT_TRUE(window_of(t0, t0 + 24h, 60s));
  EXPECT_TRUE(window_of(t0, t0 + 48h, 120s));
}

}  // namespace
}  // namespace tresse::dispatcher::stats
