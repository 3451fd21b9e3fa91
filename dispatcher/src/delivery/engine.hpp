// The delivery engine: takes Kafka records, fans each event out to the business's matching
// endpoints, signs and POSTs it, and hands every delivery off to exactly one of delivered /
// the retry schedule in Redis / the dead-letter topic / endpoint disabled.
//
// Delivery semantics (DESIGN.md): `handed_off(partition, offset)` runs for a record only once
// every delivery it fans out to is handed off durably, its attempts logged; the consumer
// commits a Kafka offset only after that. Work still in flight at stop() never calls it, so
// Kafka redelivers that record to whoever consumes the partition next (at least once; receivers
// dedupe by webhook-id). Retries are claimed from Redis with a lease, so any instance carries
// on another's retries and a crashed instance's claims come back when the lease runs out.
//
// The parts, each in its own file:
// - intake.hpp: a record becomes its deliveries (on the consumer's thread, a batch at a time);
// - shard.hpp: `delivery.io_threads` io threads, each owning the endpoints shard_map gives it;
// - endpoint_lane.hpp: admission, circuit, pacing and the attempt, per endpoint;
// - settle.hpp: an attempt's result becomes one hand-off;
// - redis_writer.hpp: the shard's non-blocking, pipelined Redis connection for all of that.
// This file wires them: records to shards in batches, claimed retries to their shards, the
// shared circuit states to every shard, and the health snapshot out.
//
//   engine e(deps, options);
//   e.start([&](int32_t partition, int64_t offset) { consumer.done(partition, offset); });
//   consumer.on_batch = [&](std::vector<kafka::message> records) { e.submit(std::move(records)); };
//   ...
//   e.stop(std::chrono::seconds(10));
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "delivery/context.hpp"
#include "delivery/intake.hpp"
#include "delivery/shard.hpp"
#include "kafka/consumer.hpp"

namespace tresse::dispatcher {

class engine {
 public:
  using handed_off_fn = std::function<void(std::int32_t partition, std::int64_t offset)>;

  // Throws std::invalid_argument (start-up only) on a bad allow-list entry or CA file.
  engine(engine_deps deps, engine_options options);
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  // `handed_off` runs once per record, on any shard thread (it must be thread-safe).
  void start(handed_off_fn handed_off);

  // Thread-safe; the consumer's batch, one post per shard.
  void submit(std::vector<kafka::message> records);

  // Stops claiming retries and accepting records, waits up to `drain` for deliveries in
  // flight to be handed off, then abandons the rest (their offsets stay uncommitted, their
  // retry claims expire) and joins the threads. Idempotent.
  void stop(std::chrono::milliseconds drain);

  // Records submitted and not yet handed off (or abandoned).
  std::size_t pending() const { return pending_.load(); }
  std::size_t shards() const { return shards_.size(); }

  // This instance's view of every endpoint it holds state for, from every shard at one moment.
  // Thread-safe (a copy); waits for the shards briefly, so never from a shard thread. Calls
  // within 100 ms share one snapshot: a /metrics scrape reads it for 8 gauges, and asking
  // every shard each time put a scraper's cost on the delivery threads.
  std::vector<health::endpoint_report> health() const;

  // What deliveries last saw of delivery.proxy (thread-safe), for /readyz.
  const http::proxy_health& proxy_health() const { return ctx_.proxy_health; }

 private:
  // A record whose every delivery is handed off (or that had none).
  void record_done(std::int32_t partition, std::int64_t offset);
  boost::asio::awaitable<void> dead_letter_poison(kafka::message record, std::string reason);
  // Claims due retries (shard 0's writer) and hands each to its endpoint's shard.
  boost::asio::awaitable<void> poll_retries();
  // Every lease/4 (1-15 s): walks every retry shard's lapsed ordered-head holders (a dead
  // instance's released heads), making their heads due (ordered::recover_op).
  boost::asio::awaitable<void> recover_ordered_heads();
  // Reads the shared circuit states every 500 ms and hands them to every shard.
  boost::asio::awaitable<void> sync_breakers();
  // Every 2 s: this instance's health reports to Redis, for the CLI and the API.
  boost::asio::awaitable<void> publish_health();
  void register_gauges();

  context ctx_;
  intake intake_;
  std::vector<std::unique_ptr<shard>> shards_;
  handed_off_fn handed_off_;
  std::atomic<bool> stopped_{false};
  std::atomic<std::size_t> pending_{0};
  std::atomic<std::size_t> retries_outstanding_{0};  // claimed retries not yet finished
  mutable std::mutex health_mu_;  // the shared snapshot below
  mutable std::chrono::steady_clock::time_point health_at_{};
  mutable std::vector<health::endpoint_report> health_;
};

}  // namespace tresse::dispatcher
