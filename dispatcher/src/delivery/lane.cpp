#include "delivery/lane.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace tresse::dispatcher {

std::size_t default_retry_slots(std::size_t slots) {
  if (slots <= 1) return 1;
  return std::max<std::size_t>(1, slots - (slots + 3) / 4);
}

lane::lane(boost::asio::any_io_executor ex, lane_options opts) : ex_(std::move(ex)), opts_(opts) {
  if (opts_.slots == 0) opts_.slots = 1;
  if (opts_.retry_slots == 0) opts_.retry_slots = default_retry_slots(opts_.slots);
  opts_.retry_slots = std::min(opts_.retry_slots, opts_.slots);
}

bool lane::can_take(kind k) const {
  if (busy_ >= opts_.slots) return false;
  if (!first_.empty()) return false;  // first attempts waiting go before anyone new
  if (k == kind::first) return true;
  return retry_busy_ < opts_.retry_slots && retries_.empty();
}

void lane::take(kind k) {
  if (busy_ == 0) busy_since_ = std::chrono::steady_clock::now();
  ++busy_;
  if (k == kind::retry) ++retry_busy_;
}

boost::asio::awaitable<lane::admit> lane::acquire(kind k,
                                                  std::chrono::steady_clock::time_point deadline) {
  if (cancelled_) co_return admit::cancelled;
  if (try_acquire(k)) co_return admit::granted;
  auto& q = queue(k);
  const auto now = std::chrono::steady_clock::now();
  const bool stalled =
      busy_ >= opts_.slots && now - std::max(last_release_, busy_since_) >= opts_.stall_after;
  if ((q.size() >= opts_.queue_limit && stalled) || deadline <= now) co_return admit::deferred;
  auto w = std::make_shared<waiter>(ex_);
  w->timer.expires_at(deadline);
  q.push_back(w);
  co_await w->timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  switch (w->st) {
    case waiter::state::granted:  // dispatch() counted the slot for us
      co_return admit::granted;
    case waiter::state::cancelled:
      co_return admit::cancelled;
    case waiter::state::waiting:
      break;
  }
  // The deadline passed while still queued.
  auto& q2 = queue(k);
  q2.erase(std::remove(q2.begin(), q2.end(), w), q2.end());
  co_return cancelled_ ? admit::cancelled : admit::deferred;
}

bool lane::try_acquire(kind k) {
  if (cancelled_ || !can_take(k)) return false;
  take(k);
  return true;
}

void lane::release(kind k) {
  last_release_ = std::chrono::steady_clock::now();
  if (busy_ > 0) --busy_;
  if (k == kind::retry && retry_busy_ > 0) --retry_busy_;
  dispatch();
}

void lane::dispatch() {
  while (busy_ < opts_.slots) {
    queue_type* q = nullptr;
    kind k = kind::first;
    if (!first_.empty()) {
      q = &first_;
    } else if (!retries_.empty() && retry_busy_ < opts_.retry_slots) {
      q = &retries_;
      k = kind::retry;
    } else {
      return;
    }
    auto w = std::move(q->front());
    q->pop_front();
    take(k);
    w->st = waiter::state::granted;
    w->timer.cancel();
  }
}

void lane::cancel_all() {
  cancelled_ = true;
  for (auto* q : {&first_, &retries_}) {
    for (auto& w : *q) {
      w->st = waiter::state::cancelled;
      w->timer.cancel();
    }
    q->clear();
  }
}

}  // namespace tresse::dispatcher
