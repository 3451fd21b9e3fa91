#include "delivery/redis_writer.hpp"

#include <algorithm>
#include <utility>

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

asio::awaitable<std::optional<std::vector<redis::reply>>> redis_writer::write(
    const redis::request& r, const char* what) {
  auto delay = 100ms;
  redis::replies got;
  for (;;) {
    got = co_await redis::run(client_, r);
    status ok = got ? redis::first_error(*got) : status(std::unexpected(got.error()));
    if (ok) {
      recovered(what);
      co_return std::move(*got);
    }
    const error failure = ok.error();
    if (!co_await back_off(delay, what, failure)) co_return std::nullopt;
  }
}

}  // namespace tresse::dispatcher
