#include "delivery/redis_writer.hpp"

#include <algorithm>

#include "delivery/context.hpp"
#include "tresse/common/log.hpp"

namespace tresse::dispatcher {
namespace asio = boost::asio;
using namespace std::chrono_literals;

redis_writer::redis_writer(asio::io_context& io, const redis::options& opts,
                           const std::atomic<bool>& stopping)
    : client_(opts, io), stopping_(stopping) {}

asio::awaitable<bool> redis_writer::back_off(std::chrono::milliseconds& delay, const char* what,
                                             const error& e) {
  if (stopping_) co_return false;
  if (!std::exchange(failing_, true)) {
    log::warn("redis write failed; retrying until it works (hand-offs and commits wait)",
              {{"what", what}, {"error", e.message}});
  }
  co_await sleep_for(delay);
  delay = std::min<std::chrono::milliseconds>(delay * 2, 5s);
  co_return !stopping_;
}

void redis_writer::recovered(const char* what) {
  if (std::exchange(failing_, false)) log::info("redis writes work again", {{"what", what}});
}

asio::awaitable<bool> redis_writer::write(const std::vector<std::vector<std::string>>& commands,
                                          const char* what) {
  auto delay = 100ms;
  result<std::vector<redis::reply>> r;
  for (;;) {
    r = co_await client_.pipeline(commands);
    error failure;
    if (r) {
      auto bad = std::find_if(r->begin(), r->end(),
                              [](const auto& x) { return x.type == redis::reply::kind::error; });
      if (bad == r->end()) {
        recovered(what);
        co_return true;
      }
      failure = redis::error_of(*bad);
    } else {
      failure = r.error();
    }
    if (!co_await back_off(delay, what, failure)) co_return false;
  }
}

asio::awaitable<std::optional<redis::reply>> redis_writer::eval(const redis::script_call& call,
                                                                const char* what) {
  auto delay = 100ms;
  result<redis::reply> r;
  for (;;) {
    r = co_await client_.eval(call);
    if (r) {
      recovered(what);
      co_return std::move(*r);
    }
    const error failure = r.error();
    if (!co_await back_off(delay, what, failure)) co_return std::nullopt;
  }
}

}  // namespace tresse::dispatcher
