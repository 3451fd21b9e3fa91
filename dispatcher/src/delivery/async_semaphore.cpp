#include "delivery/async_semaphore.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace tresse::dispatcher {

async_semaphore::async_semaphore(boost::asio::any_io_executor ex, std::size_t permits)
    : ex_(std::move(ex)), permits_(permits) {}

bool async_semaphore::try_acquire() {
  if (cancelled_ || permits_ == 0 || !waiters_.empty()) return false;
  --permits_;
  return true;
}

boost::asio::awaitable<bool> async_semaphore::acquire() {
  if (cancelled_) co_return false;
  if (try_acquire()) co_return true;
  auto timer = std::make_shared<boost::asio::steady_timer>(ex_);
  timer->expires_at(boost::asio::steady_timer::time_point::max());
  waiters_.push_back(timer);
  co_await timer->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  // release() hands its permit straight to the first waiter (permits_ not incremented), so a
  // woken waiter owns a permit unless it was woken by cancel_all().
  co_return !cancelled_;
}

void async_semaphore::release() {
  if (!waiters_.empty()) {
    auto t = std::move(waiters_.front());
    waiters_.pop_front();
    t->cancel();
    return;
  }
  ++permits_;
}

void async_semaphore::cancel_all() {
  cancelled_ = true;
  for (auto& t : waiters_) t->cancel();
  waiters_.clear();
}

}  // namespace tresse::dispatcher
