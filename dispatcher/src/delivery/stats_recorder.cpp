#include "delivery/stats_recorder.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "delivery/context.hpp"
#include "stats/series.hpp"

namespace tresse::dispatcher {
namespace asio = boost::asio;

void stats_recorder::start() { asio::co_spawn(ex_, flush_loop(), asio::detached); }

asio::awaitable<void> stats_recorder::flush_loop() {
  // Declared outside the loop (g++ 12 and co_await: see context.hpp).
  redis::request batch;
  redis::replies sent;
  while (!stopping_) {
    co_await sleep_for(every_);
    batch = acc_.take(stats::retention);  // also forgets endpoints idle since the last one
    if (batch.commands.empty()) continue;
    sent = co_await writer_.try_once(batch);
    (void)sent;  // best effort: the next second's counts go out regardless
  }
}

}  // namespace tresse::dispatcher
