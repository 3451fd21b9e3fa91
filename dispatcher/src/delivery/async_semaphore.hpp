// A counting semaphore for coroutines on one single-threaded executor (the delivery
// io_context): acquire() suspends without blocking the thread until a permit is free.
// Waiters are woken in FIFO order. Not thread-safe by design: use from the owning executor.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

namespace tresse::dispatcher {

class async_semaphore {
 public:
  async_semaphore(boost::asio::any_io_executor ex, std::size_t permits);

  // Waits for a permit. Returns false if the wait was cancelled (shutdown).
  boost::asio::awaitable<bool> acquire();
  // Takes a free permit at once, without a coroutine (the common case); false: none free, or
  // someone waits for one (then acquire()).
  bool try_acquire();
  void release();
  // Wakes every waiter with "cancelled".
  void cancel_all();

  std::size_t available() const { return permits_; }
  std::size_t waiting() const { return waiters_.size(); }

 private:
  boost::asio::any_io_executor ex_;
  std::size_t permits_;
  std::deque<std::shared_ptr<boost::asio::steady_timer>> waiters_;
  bool cancelled_ = false;
};

// Holds one permit until destroyed.
class semaphore_permit {
 public:
  semaphore_permit() = default;
  explicit semaphore_permit(async_semaphore* s) : s_(s) {}
  semaphore_permit(semaphore_permit&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  semaphore_permit& operator=(semaphore_permit&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = o.s_;
      o.s_ = nullptr;
    }
    return *this;
  }
  ~semaphore_permit() { reset(); }
  void reset() {
    if (s_ != nullptr) s_->release();
    s_ = nullptr;
  }

 private:
  async_semaphore* s_ = nullptr;
};

}  // namespace tresse::dispatcher
