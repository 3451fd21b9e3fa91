// A shard's attempt log: the attempts its deliveries log within a short gathering window (and
// while a write is out) leave together in one write, so that attempts to one endpoint, and the
// deliveries of one event, share their list commands (retry::store::log_attempts_commands: one
// LPUSH per list, not per attempt), and a batch costs one Redis round trip (a
// send, a receive and a wake-up on each side) instead of one per attempt or two.
//
// The window (`gather`, 2 ms) delays only the hand-off: the webhook is already delivered when
// its attempt is logged. A batch that reaches `max_batch` leaves at once.
//
// Durable like redis_writer::write: a write is retried until Redis took it, and false means
// only that the engine is stopping (the record then stays uncommitted). Shard thread only.
//
//   attempt_log log(shard_io.get_executor(), writer, retries);
//   if (!co_await log.write(record, body)) co_return;   // record, body: alive until it returns
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "delivery/redis_writer.hpp"
#include "retry/store.hpp"

namespace tresse::dispatcher {

struct attempt_log_options {
  std::chrono::microseconds gather{2000};  // how long a batch waits for company; 0: no wait
  std::size_t max_batch = 256;             // a batch this large leaves without waiting
};

class attempt_log {
 public:
  attempt_log(boost::asio::any_io_executor ex, redis_writer& writer, const retry::store& store,
              attempt_log_options opts = {})
      : ex_(std::move(ex)), writer_(writer), store_(store), opts_(opts), gather_(ex_) {}

  // `body`: the event's bytes to keep with it ("" for none). `sets_ttl`: see
  // retry::store::logged (false only for a fan-out's deliveries after its first).
  boost::asio::awaitable<bool> write(const retry::attempt_record& a, std::string_view body,
                                     bool sets_ttl = true);

 private:
  struct batch {
    explicit batch(const boost::asio::any_io_executor& ex)
        : done(ex, boost::asio::steady_timer::time_point::max()) {}
    std::vector<retry::store::logged> entries;  // point into the waiting writers' frames
    std::chrono::steady_clock::time_point opened = std::chrono::steady_clock::now();
    boost::asio::steady_timer done;             // cancelled when `ok` is set
    std::optional<bool> ok;
  };
  boost::asio::awaitable<void> flush();

  boost::asio::any_io_executor ex_;
  redis_writer& writer_;
  const retry::store& store_;
  attempt_log_options opts_;
  boost::asio::steady_timer gather_;  // the flush waits on it; cancelled by a full batch
  std::shared_ptr<batch> filling_;
  bool flushing_ = false;
};

}  // namespace tresse::dispatcher
