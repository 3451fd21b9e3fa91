// tresse-bench-latency-publish: publishes COUNT events at RATE per second and prints
// "<event id> <unix ns>" for each, taken just after the event was handed to librdkafka.
// dispatcher_bench.sh and isolation_bench.sh match these lines with the receive times of the
// sink's lines to get publish-to-receive latency. Events are paced in 1 ms ticks: each tick
// hands librdkafka the events due by then, and linger.ms is 1, so that a rate of thousands per
// second costs the publisher and the broker one wake-up and one produce request per tick, not
// per event, as any producer at that rate would batch. Each event's stamp is still taken when
// it was handed over, so the linger (at most 1 ms) counts against the measured latency; the
// batching delay of tresse-publish (5 ms) does not come in. BUSINESS may be a
// comma-separated list, used round-robin; ID_PREFIX (default evt_bench_) keeps the ids of
// several runs apart. One warm-up event (business biz_bench_warmup) goes first, unprinted.
//
//   tresse-bench-latency-publish BROKERS BUSINESS[,BUSINESS...] COUNT RATE [ID_PREFIX] > published.txt
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tresse/common/publisher.hpp"

int main(int argc, char** argv) {
  using namespace std::chrono;
  if (argc != 5 && argc != 6) {
    std::fprintf(stderr,
                 "usage: tresse-bench-latency-publish BROKERS BUSINESS[,...] COUNT RATE "
                 "[ID_PREFIX]\n");
    return 2;
  }
  std::vector<std::string> businesses;
  for (std::string_view rest = argv[2]; !rest.empty();) {
    auto comma = rest.find(',');
    if (comma != 0) businesses.emplace_back(rest.substr(0, comma));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (businesses.empty()) return 2;
  const std::string prefix = argc == 6 ? argv[5] : "evt_bench_";
  const long count = std::atol(argv[3]);
  const double rate = std::atof(argv[4]);
  if (count <= 0 || rate <= 0) return 2;
  auto pub = tresse::events::publisher::create(
      {.brokers = argv[1], .extra = {{"linger.ms", "1"}}});
  if (!pub) {
    std::fprintf(stderr, "publisher: %s\n", pub.error().message.c_str());
    return 1;
  }
  // A new producer may hold its first messages for about a second against the mock broker
  // (bench/README.md, Findings). One event no endpoint subscribes to, acknowledged before the
  // clock starts, keeps that start-up out of the measured latency.
  auto warm = tresse::events::make_event({.type = "appointment.created",
                                          .business_id = "biz_bench_warmup",
                                          .data_json = R"({"id":"apt_warmup"})",
                                          .id = prefix + "warmup"});
  if (!warm || !(*pub)->publish(*warm) || !(*pub)->flush(seconds(30))) {
    std::fprintf(stderr, "publisher: the warm-up event was not acknowledged\n");
    return 1;
  }
  const auto start = steady_clock::now();
  const auto tick = milliseconds(1);
  for (long i = 0; i < count; ++i) {
    // Event i is due at i / rate; it goes at the first tick at or after that, with the
    // tick's other events, back to back.
    const auto due = duration_cast<steady_clock::duration>(
        duration<double>(static_cast<double>(i) / rate));
    std::this_thread::sleep_until(start + (due + tick - steady_clock::duration(1)) / tick * tick);
    auto ev = tresse::events::make_event(
        {.type = "appointment.created",
         .business_id = businesses[static_cast<std::size_t>(i) % businesses.size()],
         .data_json = R"({"id":"apt_bench","status":"confirmed","price_cents":18500})",
         .id = prefix + std::to_string(i)});
    if (!ev || !(*pub)->publish(*ev)) return 1;
    auto ns = duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count();
    std::printf("%s %lld\n", ev->id.c_str(), static_cast<long long>(ns));
  }
  std::fflush(stdout);
  return (*pub)->flush(seconds(30)) ? 0 : 1;
}
