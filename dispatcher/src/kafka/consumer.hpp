// The events consumer: one consumer-group member reading the events topic on its own thread.
//
// At least once, end to end: nothing is committed automatically. Every message handed to the
// handler stays "in flight" until the dispatcher calls done(partition, offset), i.e. until its
// work is fully handed off (delivered, durably scheduled for retry in Redis, or
// dead-lettered). Every `commit_interval`, and when partitions are revoked or the consumer
// stops, the consumer commits per partition the low watermark of finished work (see
// offset_tracker), so a crash re-delivers exactly the unfinished messages (and possibly
// some finished ones after them: receivers dedupe by webhook-id).
//
// Backpressure: when `max_in_flight` messages are unfinished, every assigned partition is
// paused; they resume once in-flight falls to `resume_below`.
//
// Rebalances: on revoke, what is finished is committed and the revoked partitions are
// forgotten; their unfinished messages go to the new owner, which may deliver them while
// this instance is still delivering its copy (duplicates, never losses).
//
//   auto c = consumer::create({.brokers = b, .group_id = "tresse-dispatcher"},
//                             [&](message m) { post(io, [m = std::move(m)] { ... }); });
//   ... later, from any thread:  (*c)->done(m.partition, m.offset);
//   (*c)->stop(10s);   // stop fetching, wait for in-flight work, final commit, leave group
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kafka/offset_tracker.hpp"
#include "tresse/common/kafka.hpp"
#include "tresse/common/result.hpp"

namespace tresse::dispatcher::kafka {

using namespace std::chrono_literals;

struct message {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string key;
  std::string value;               // the exact bytes
  std::int64_t timestamp_ms = -1;  // Kafka message timestamp (ms since epoch), -1 if none
};

struct consumer_options {
  std::string brokers;
  std::string group_id = "tresse-dispatcher";
  std::string topic = std::string(tresse::kafka::default_events_topic);
  std::size_t max_in_flight = 10000;
  std::size_t resume_below = 0;  // 0: max_in_flight / 2
  std::chrono::milliseconds commit_interval = 200ms;
  std::chrono::milliseconds poll_timeout = 100ms;
  std::size_t max_batch = 256;  // messages handed out together, at most
  std::string auto_offset_reset = "earliest";  // where a new group starts
  tresse::kafka::config_map extra;             // librdkafka overrides, applied last
};

struct partition_lag {
  std::int32_t partition = 0;
  std::int64_t high_watermark = -1;  // -1: not known yet
  std::int64_t position = -1;        // next offset this consumer reads; -1: not known yet
  std::int64_t committed = -1;       // last position this consumer committed; -1: none yet
  std::int64_t lag = -1;             // high_watermark - position; -1 when unknown
};

// Whether a rebalance is cooperative, from what rd_kafka_rebalance_protocol() named: NULL
// (librdkafka's answer once the group is closing, as in the revoke a graceful stop raises)
// keeps what the last rebalance said.
bool cooperative_rebalance(const char* protocol, bool last_known);

class consumer {
 public:
  // Called on the consumer's thread for every message, in partition order. It must return
  // quickly and must not throw: hand the message to other threads.
  using handler = std::function<void(message)>;
  // The same for every batch of messages fetched together (at most `max_batch`, in partition
  // order), so that the hand-off to other threads costs one post per batch, not per message.
  using batch_handler = std::function<void(std::vector<message>)>;

  // Subscribes to `options.topic` and starts the polling thread.
  static result<std::unique_ptr<consumer>> create(consumer_options options, handler on_message);
  static result<std::unique_ptr<consumer>> create(consumer_options options, batch_handler on_batch);
  ~consumer();  // stop(0s) if still running
  consumer(const consumer&) = delete;
  consumer& operator=(const consumer&) = delete;

  // The message's work is finished; thread-safe. Unknown offsets (already done, or from a
  // partition revoked since) are ignored.
  void done(std::int32_t partition, std::int64_t offset);

  // Stops fetching, waits up to `drain` for in-flight messages to be done, commits, leaves
  // the group and joins the thread. A transient error tells how many messages were left
  // unfinished (they will be redelivered). Idempotent.
  status stop(std::chrono::milliseconds drain);

  std::size_t in_flight() const;
  bool paused() const { return paused_.load(); }
  std::vector<std::int32_t> assignment() const;
  std::uint64_t received() const { return received_.load(); }
  // Per assigned partition; thread-safe, cheap (librdkafka's cached watermarks).
  std::vector<partition_lag> lag() const;

 private:
  consumer(consumer_options options, batch_handler on_batch);
  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque);
  void run();
  // The message as handed out, or nothing (an error or EOF event, logged). Not yet tracked.
  std::optional<message> take(rd_kafka_message_t* m);
  // Tracks and hands out one batch.
  void hand_out(std::vector<message> batch);
  // Commits pending positions (all partitions, or only `only` if given); synchronous.
  status commit(const std::vector<std::int32_t>* only = nullptr);
  void apply_backpressure();
  void set_paused(bool pause);

  consumer_options options_;
  batch_handler on_batch_;
  tresse::kafka::handle_ptr rk_;
  std::thread thread_;

  mutable std::mutex mutex_;  // guards tracker_, assignment_, stop_status_
  std::condition_variable drained_;
  offset_tracker tracker_;
  std::vector<std::int32_t> assignment_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> paused_{false};
  bool cooperative_ = false;  // the group's rebalance protocol, as last known (on_rebalance only)
  std::atomic<std::uint64_t> received_{0};
  std::chrono::milliseconds drain_{0};
  status stop_status_;
};

}  // namespace tresse::dispatcher::kafka
