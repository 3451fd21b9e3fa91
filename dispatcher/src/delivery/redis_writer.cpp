#include "delivery/redis_writer.hpp"

#include <algorithm>
#include <utility>

#include "delivery/context.hpp"
#include "redis/sentinel.hpp"
#include "tresse/common/log.hpp"

namespace tresse::dispatcher {
namespace asio = boost::asio;
using namespace std::chrono_literals;

redis_writer::redis_writer(asio::io_context& io, const redis::options& opts,
                           const std::atomic<bool>& stopping)
    : client_(opts, io),
      stopping_(stopping),
      wait_replicas_(opts.wait_replicas),
      wait_timeout_(std::to_string(opts.wait_timeout.count())) {}

redis::command_list redis_writer::beside(const redis::request& r,
                                         std::initializer_list<std::string_view> argv) {
  // A read of r's key first, so that on a Redis Cluster the command goes to the primary that
  // took r (a keyless command goes with its neighbour: redis/cluster_client.hpp).
  redis::command_list out;
  if (const std::string key = redis::routing_key(r); !key.empty()) out.add({"EXISTS", key});
  out.add(argv);
  return out;
}

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
  redis::command_list wait;
  int replicas = 0;
  std::uint64_t connection = 0;
  ack acked = ack::acked;
  for (;;) {
    replicas = co_await replicas_to_wait_for(r);
    if (replicas < 0) {
      // No ROLE answer on this connection yet (Redis down or hanging): a write sent now would
      // carry a guessed WAIT, and on a primary without replicas every such WAIT blocks the
      // pipelined connection for wait_timeout once Redis answers again, one after the other.
      const error unanswered = fail(error_kind::transient, "redis: ROLE unanswered").error();
      if (!co_await back_off(delay, what, unanswered)) co_return std::nullopt;
      continue;
    }
    if (replicas > 0) {
      wait = redis::command_list();
      wait.add({"WAIT", std::to_string(replicas), wait_timeout_});
      got = co_await redis::run_then(client_, r, wait);
      connection = client_.connection_generation();
    } else {
      got = co_await redis::run(client_, r);
    }
    status ok = redis::status_of(got);
    if (ok && replicas > 0) {
      redis::reply wait_reply = std::move(got->back());
      got->pop_back();
      acked = co_await await_replicas(std::move(wait_reply), r, replicas, connection, what);
      if (acked == ack::stopping) co_return std::nullopt;
      if (acked == ack::connection_lost) {
        ok = fail(error_kind::transient, "redis: connection lost while waiting for replicas");
      }
    }
    if (ok) {
      recovered(what);
      co_return std::move(*got);
    }
    const error failure = ok.error();
    if (!co_await back_off(delay, what, failure)) co_return std::nullopt;
  }
}

asio::awaitable<int> redis_writer::replicas_to_wait_for(const redis::request& r) {
  if (wait_replicas_ != redis::options::wait_auto) co_return wait_replicas_;
  // On a new connection every write asks until one answer is in: a guess would cost a lone
  // primary a wait_timeout per write (WAIT blocks the pipelined connection), or risk a loss.
  // After that one write at a time refreshes it, the others go on with the last answer.
  primary_role& role = role_of(r);
  const bool unknown = role.connection != client_.connection_generation();
  const bool stale = std::chrono::steady_clock::now() - role.asked > role_max_age;
  if (unknown || (stale && !role.asking)) co_await ask_role(r, role);
  if (role.connection != client_.connection_generation()) co_return -1;  // still unanswered
  co_return role.replicas > 0 ? 1 : 0;
}

redis_writer::primary_role& redis_writer::role_of(const redis::request& r) {
  // Only a cluster has several primaries: elsewhere no key is read.
  return roles_[client_.clustered() ? client_.node_of(redis::routing_key(r)) : std::string()];
}

asio::awaitable<void> redis_writer::ask_role(const redis::request& r, primary_role& known) {
  known.asking = true;
  const redis::command_list ask = beside(r, {"ROLE"});
  redis::replies got = co_await client_.pipeline(ask);
  known.asking = false;
  if (!got || got->size() != ask.size()) co_return;  // the write that follows fails the same way
  if (auto role = redis::parse_role(got->back()); role && role->primary) {
    if ((known.replicas > 0) != (role->replicas > 0)) {
      log::info(role->replicas > 0 ? "redis primary has replicas: hand-offs wait for one (WAIT)"
                                   : "redis primary has no replica: hand-offs do not wait",
                {{"replicas", std::to_string(role->replicas)}});
    }
    known.replicas = role->replicas;
    known.connection = client_.connection_generation();
    known.asked = std::chrono::steady_clock::now();
  }
}

asio::awaitable<redis_writer::ack> redis_writer::await_replicas(redis::reply first,
                                                                const redis::request& r,
                                                                int wanted,
                                                                std::uint64_t connection,
                                                                const char* what) {
  redis::reply last = std::move(first);
  redis::replies sent;
  const redis::command_list wait = beside(r, {"WAIT", std::to_string(wanted), wait_timeout_});
  for (;;) {
    if (last.type == redis::reply::kind::integer && last.integer >= wanted) {
      if (std::exchange(unacked_, false)) log::info("redis replicas acknowledge writes again", {});
      co_return ack::acked;
    }
    if (wait_replicas_ == redis::options::wait_auto) {
      // auto waits only while the primary has a replica at all: one that is gone (not one that
      // hangs: it stays connected) leaves nothing to wait for.
      primary_role& role = role_of(r);
      co_await ask_role(r, role);
      if (role.replicas == 0 && client_.connection_generation() == connection) {
        unacked_ = false;
        co_return ack::acked;
      }
    }
    if (!std::exchange(unacked_, true)) {
      log::warn(
          "redis replicas did not acknowledge a write in time; waiting (its Kafka offset "
          "is not committed until they do)",
          {{"what", what},
           {"acked", std::to_string(last.integer)},
           {"wanted", std::to_string(wanted)}});
    }
    if (stopping_) co_return ack::stopping;
    // Only WAIT again, and on the same connection: WAIT counts this connection's writes.
    sent = co_await client_.pipeline(wait);
    if (!sent || sent->size() != wait.size() || client_.connection_generation() != connection) {
      co_return ack::connection_lost;
    }
    last = std::move(sent->back());
  }
}

}  // namespace tresse::dispatcher
