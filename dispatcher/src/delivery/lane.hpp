// One endpoint's admission control: its own concurrency and its own bounded queue, so a slow
// or dead endpoint holds only its own slots and never makes another endpoint's deliveries wait.
//
//   lane l(io.get_executor(), {.slots = 10, .queue_limit = 100});
//   auto granted = co_await l.acquire(lane::kind::first, steady_clock::now() + 5s);
//   if (granted == lane::admit::deferred) schedule_as_retry_without_a_request();
//   lane_permit p(&l, lane::kind::first);   // released when p goes out of scope
//
// First attempts never wait behind retries: a freed slot goes to a waiting first attempt before
// any retry, and retries may hold at most `retry_slots` of the slots, so first attempts always
// have the rest. An acquire still waiting at its deadline returns `deferred`; so does one that
// would queue beyond `queue_limit` while the endpoint is stalled (no attempt finished within
// `stall_after` while all its slots were busy). The caller then hands the delivery to the retry schedule without sending a
// request, so a hanging endpoint's backlog sits in Redis instead of pinning Kafka offsets. A
// healthy endpoint that is merely busy (a burst) keeps queueing past the limit: its backlog
// stays in Kafka, bounded by the consumer's backpressure (kafka.max_pending), and is delivered
// at the endpoint's pace rather than through the retry schedule.
//
// Not thread-safe by design: use from the owning (single-threaded) executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>

namespace tresse::dispatcher {

struct lane_options {
  std::size_t slots = 10;         // attempts in flight at once
  std::size_t retry_slots = 0;    // of which retries at most; 0: default_retry_slots(slots)
  std::size_t queue_limit = 100;  // waiters per kind before a stalled lane defers at once
  // Stalled: every slot busy and none freed for this long.
  std::chrono::milliseconds stall_after{1000};
};

// slots - ceil(slots / 4) (at least 1): a quarter of the slots stays free for first attempts.
std::size_t default_retry_slots(std::size_t slots);

class lane {
 public:
  enum class kind { first, retry };
  enum class admit { granted, deferred, cancelled };

  lane(boost::asio::any_io_executor ex, lane_options opts);
  lane(const lane&) = delete;
  lane& operator=(const lane&) = delete;

  // Waits for a slot until `deadline`. granted: the caller owns a slot of kind `k` and must
  // release(k) it (lane_permit does); deferred: the queue is full or the deadline passed;
  // cancelled: shutdown.
  boost::asio::awaitable<admit> acquire(kind k, std::chrono::steady_clock::time_point deadline);
  // Takes a free slot of kind `k` at once, without a coroutine; false: none to take now (then
  // acquire(), which also says why).
  bool try_acquire(kind k);
  void release(kind k);
  // Wakes every waiter with "cancelled"; later acquires are cancelled at once.
  void cancel_all();

  std::size_t busy() const { return busy_; }
  std::size_t waiting(kind k) const { return queue(k).size(); }
  // Nothing in flight and nobody waiting: safe to forget.
  bool idle() const { return busy_ == 0 && first_.empty() && retries_.empty(); }

 private:
  struct waiter {
    explicit waiter(const boost::asio::any_io_executor& ex) : timer(ex) {}
    boost::asio::steady_timer timer;
    enum class state { waiting, granted, cancelled } st = state::waiting;
  };
  using queue_type = std::deque<std::shared_ptr<waiter>>;

  bool can_take(kind k) const;
  void take(kind k);
  void dispatch();  // hands free slots to waiters, first attempts first
  queue_type& queue(kind k) { return k == kind::first ? first_ : retries_; }
  const queue_type& queue(kind k) const { return k == kind::first ? first_ : retries_; }

  boost::asio::any_io_executor ex_;
  lane_options opts_;
  std::chrono::steady_clock::time_point last_release_{};
  std::chrono::steady_clock::time_point busy_since_{};  // when busy_ last rose from 0
  std::size_t busy_ = 0;
  std::size_t retry_busy_ = 0;
  queue_type first_;
  queue_type retries_;
  bool cancelled_ = false;
};

// Holds one slot until destroyed.
class lane_permit {
 public:
  lane_permit() = default;
  lane_permit(lane* l, lane::kind k) : l_(l), k_(k) {}
  lane_permit(lane_permit&& o) noexcept : l_(o.l_), k_(o.k_) { o.l_ = nullptr; }
  lane_permit& operator=(lane_permit&& o) noexcept {
    if (this != &o) {
      reset();
      l_ = o.l_;
      k_ = o.k_;
      o.l_ = nullptr;
    }
    return *this;
  }
  ~lane_permit() { reset(); }
  void reset() {
    if (l_ != nullptr) l_->release(k_);
    l_ = nullptr;
  }

 private:
  lane* l_ = nullptr;
  lane::kind k_ = lane::kind::first;
};

}  // namespace tresse::dispatcher
