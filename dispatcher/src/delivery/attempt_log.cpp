#include "delivery/attempt_log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace tresse::dispatcher {
namespace asio = boost::asio;

asio::awaitable<bool> attempt_log::write(const retry::attempt_record& a, std::string_view body,
                                         bool sets_ttl) {
  if (!filling_) filling_ = std::make_shared<batch>(ex_);
  const std::shared_ptr<batch> mine = filling_;
  mine->entries.push_back({&a, body, sets_ttl});
  if (mine->entries.size() >= opts_.max_batch) gather_.cancel();  // full: no more waiting
  if (!flushing_) {
    // Spawned, so it starts after the current handler: whoever else logs in this turn joins.
    flushing_ = true;
    asio::co_spawn(ex_, flush(), asio::detached);
  }
  while (!mine->ok) co_await mine->done.async_wait(asio::as_tuple(asio::use_awaitable));
  co_return *mine->ok;
}

asio::awaitable<void> attempt_log::flush() {
  // Declared outside the loop and assigned in it (g++ 12 and co_await: see context.hpp).
  std::shared_ptr<batch> b;
  retry::store::log_request commands;
  redis::request trims;
  std::optional<std::vector<redis::reply>> written;
  while (filling_) {
    if (filling_->entries.size() < opts_.max_batch && opts_.gather.count() > 0) {
      gather_.expires_at(filling_->opened + opts_.gather);
      co_await gather_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    b = std::move(filling_);
    filling_.reset();  // what is logged from now on waits for the next write
    commands = store_.log_attempts_commands(b->entries);
    written = co_await writer_.write(commands.commands, "attempt log");
    b->ok = written.has_value();
    b->done.cancel();
    // Rare (an event past 100 attempts); its writers need not wait for it.
    if (written) trims = store_.trim_commands(commands, *written);
    if (written && !trims.commands.empty()) co_await writer_.write(trims, "attempt log trim");
  }
  flushing_ = false;
}

}  // namespace tresse::dispatcher
