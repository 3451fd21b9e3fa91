// Replay protection by webhook-id.
//
// A verifier given a replay_guard remembers the id of every webhook it accepts until the
// tolerance window has passed (after that the timestamp check rejects the message anyway),
// and rejects a second delivery of the same id with errc::replayed. Ids are remembered only
// after the signature verified, so forged requests cannot fill the guard.
//
// Note: Standard Webhooks senders retry with the same webhook-id; a receiver that answered
// with an error and wants the retry must not remember the id. Use `forget` for that.
//
//   tresse::receiver::verifier_options options;
//   options.replay = std::make_shared<tresse::receiver::memory_replay_guard>(100000);
//   tresse::receiver::verifier v(keys, options);
//   // v.verify(...) now fails with errc::replayed on a second delivery of an id: a duplicate
//   // of an authentic webhook, which the receiver acknowledges with 2xx and does not process
//   // again (verify.hpp).
//
// Back it with Redis (SET id 1 NX PX ...) by implementing `replay_guard` yourself.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string_view>

namespace tresse::receiver {

class replay_guard {
 public:
  virtual ~replay_guard() = default;

  // Remembers `id` until `expires`. Returns true the first time, false when `id` is already
  // remembered and not yet expired (a replay). Must be thread-safe.
  virtual bool remember(std::string_view id, std::chrono::system_clock::time_point now,
                        std::chrono::system_clock::time_point expires) = 0;

  // Drops `id`, so that a redelivery of it is accepted again.
  virtual void forget(std::string_view id) = 0;
};

// In-memory guard, bounded to `capacity` ids. Expired ids are dropped first; when it is full of
// live ids the one closest to expiry is evicted (so memory stays bounded under a flood, at the
// price of that one id's protection). Thread-safe.
class memory_replay_guard final : public replay_guard {
 public:
  explicit memory_replay_guard(std::size_t capacity = 100000);
  ~memory_replay_guard() override;
  memory_replay_guard(const memory_replay_guard&) = delete;
  memory_replay_guard& operator=(const memory_replay_guard&) = delete;

  bool remember(std::string_view id, std::chrono::system_clock::time_point now,
                std::chrono::system_clock::time_point expires) override;
  void forget(std::string_view id) override;
  std::size_t size() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace tresse::receiver
