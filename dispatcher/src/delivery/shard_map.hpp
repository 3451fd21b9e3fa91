// Which shard owns an endpoint. An endpoint seen for the first time goes to the shard that owns
// the fewest, and stays there until it is forgotten (deleted and its lane pruned): its lane,
// breaker, throttle and connections live on that shard. A hash of the id balances thousands of
// endpoints but leaves a few lopsided (8 over 2 shards split 6/2 or worse three times in ten),
// and then the busier shard sets the pace of all (bench/README.md, "Dispatcher").
//
//   shard_map owners(2);
//   owners.of("ep_1");   // 0, from any thread
//   owners.of("ep_2");   // 1
//   owners.forget("ep_1");
#pragma once

#include <cstddef>
#include <mutex>
#include <string_view>
#include <vector>

#include "tresse/common/string_map.hpp"

namespace tresse::dispatcher {

class shard_map {
 public:
  explicit shard_map(std::size_t shards);

  // Thread-safe. Assigns the endpoint on first sight; the same answer afterwards.
  std::size_t of(std::string_view endpoint_id);
  // The next of() may answer another shard. Only for an endpoint no shard holds state for.
  void forget(std::string_view endpoint_id);

 private:
  std::mutex mu_;
  string_map<std::size_t> owner_;
  std::vector<std::size_t> owned_;  // endpoints per shard
};

}  // namespace tresse::dispatcher
