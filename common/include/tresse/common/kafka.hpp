// librdkafka, wrapped: RAII handles, configuration, the one error translation, and the one
// producer (used by the publisher and by the dispatcher's dead-letter writer).
//
//   auto p = tresse::kafka::producer::create({.brokers = "127.0.0.1:9092"});
//   if (!p) return p.error();
//   (*p)->produce("tresse.events", "biz_4f8a2c", bytes);        // async, counted
//   auto st = (*p)->produce_and_wait("tresse.webhooks.dead", key, bytes, 10s);  // acked or error
//   (*p)->flush(5s);
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "tresse/common/result.hpp"

namespace tresse::kafka {

using namespace std::chrono_literals;

// Default topic names (all configurable): events in, dead letters out, operator commands.
inline constexpr std::string_view default_events_topic = "tresse.events";
inline constexpr std::string_view default_dead_letter_topic = "tresse.webhooks.dead";
inline constexpr std::string_view default_ops_topic = "tresse.webhooks.ops";

// librdkafka properties ("key", "value"), applied in order after the built-in defaults, so a
// caller can override any of them (tests lower timeouts this way).
using config_map = std::vector<std::pair<std::string, std::string>>;

struct handle_deleter {
  void operator()(rd_kafka_t* rk) const noexcept { rd_kafka_destroy(rk); }
};
struct conf_deleter {
  void operator()(rd_kafka_conf_t* c) const noexcept { rd_kafka_conf_destroy(c); }
};
struct partition_list_deleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const noexcept {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
struct message_deleter {
  void operator()(rd_kafka_message_t* m) const noexcept { rd_kafka_message_destroy(m); }
};
using handle_ptr = std::unique_ptr<rd_kafka_t, handle_deleter>;
using conf_ptr = std::unique_ptr<rd_kafka_conf_t, conf_deleter>;
using partition_list_ptr = std::unique_ptr<rd_kafka_topic_partition_list_t, partition_list_deleter>;
using message_ptr = std::unique_ptr<rd_kafka_message_t, message_deleter>;

// The one place librdkafka error codes become tresse errors. Fatal: the client is unusable
// (e.g. the idempotent producer's fatal error, bad credentials). Permanent: retrying the same
// thing cannot help (message too large, invalid argument, unknown topic). Transient: anything
// else (timeouts, broker down, queue full).
error to_error(rd_kafka_resp_err_t err, std::string_view context);

// A configuration with `values` applied; an unknown key or bad value is a permanent error.
// Nagle is off by default (socket.nagle.disable=true) on every handle.
result<conf_ptr> make_conf(const config_map& values);

// Creates a client handle; takes ownership of `conf` on success and on failure.
result<handle_ptr> make_handle(rd_kafka_type_t type, conf_ptr conf);

struct producer_options {
  std::string brokers;
  // How long librdkafka retries one message before reporting it failed.
  std::chrono::milliseconds message_timeout = 30s;
  std::chrono::milliseconds linger = 5ms;
  config_map extra;  // applied last
};

// An idempotent producer (acks=all, enable.idempotence=true): retries never duplicate or
// reorder messages within a partition. Messages with the same key go to the same partition.
// A background thread serves delivery reports. Thread-safe.
class producer {
 public:
  struct stats {
    std::uint64_t enqueued = 0;
    std::uint64_t delivered = 0;
    std::uint64_t failed = 0;
  };

  static result<std::unique_ptr<producer>> create(producer_options options);
  ~producer();  // flushes for up to 5 s, then drops what is left
  producer(const producer&) = delete;
  producer& operator=(const producer&) = delete;

  // Enqueues one message; blocks while librdkafka's local queue is full. The outcome is
  // counted in stats(); a failed delivery's reason is kept in last_error().
  status produce(std::string_view topic, std::string_view key, std::string_view value);

  // Produces one message and waits until the broker acknowledged it (acks=all) or `timeout`
  // passed (transient error; the message may still be delivered later).
  status produce_and_wait(std::string_view topic, std::string_view key, std::string_view value,
                          std::chrono::milliseconds timeout);

  // Waits until every enqueued message was acknowledged or failed. Returns a transient error
  // if messages remain after `timeout`, or the last delivery error if any message failed
  // since the previous flush.
  status flush(std::chrono::milliseconds timeout);

  stats counts() const;
  std::string last_error() const;
  rd_kafka_t* handle() const { return rk_.get(); }

 private:
  producer() = default;
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque);
  void poll_loop();

  handle_ptr rk_;
  std::thread poller_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> enqueued_{0}, delivered_{0}, failed_{0};
  std::atomic<bool> failed_since_flush_{false};
  mutable std::mutex mutex_;
  error last_error_;
};

}  // namespace tresse::kafka
