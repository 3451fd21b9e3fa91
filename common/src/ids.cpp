#include "tresse/common/ids.hpp"

#include <openssl/rand.h>
#include <pthread.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>

namespace tresse::ids {
namespace {

// ASCII order, so fixed-width base62 strings sort like the numbers they encode.
constexpr std::string_view base62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// CSPRNG bytes fetched 512 at a time per thread: an id per delivery attempt would otherwise
// cost a RAND_bytes call each (its locks and a getpid() for fork detection). A forked child
// must not reuse its parent's unread bytes, hence the generation bumped in the child.
std::atomic<unsigned> fork_generation{0};

class random_pool {
 public:
  unsigned char next() {
    const unsigned gen = fork_generation.load(std::memory_order_relaxed);
    if (used_ == bytes_.size() || gen != generation_) {
      if (RAND_bytes(bytes_.data(), static_cast<int>(bytes_.size())) != 1) {
        // The CSPRNG failing is not recoverable; ids and keys must not collide or be guessed.
        std::abort();
      }
      used_ = 0;
      generation_ = gen;
    }
    const unsigned char b = bytes_[used_];
    bytes_[used_++] = 0;  // a byte handed out is not kept
    return b;
  }

 private:
  std::array<unsigned char, 512> bytes_{};
  std::size_t used_ = bytes_.size();
  unsigned generation_ = 0;
};

random_pool& thread_pool() {
  static const bool registered = [] {
    pthread_atfork(nullptr, nullptr, [] { fork_generation.fetch_add(1); });
    return true;
  }();
  (void)registered;
  thread_local random_pool pool;
  return pool;
}

void append_random(std::string& out, std::size_t n) {
  random_pool& pool = thread_pool();
  const std::size_t target = out.size() + n;
  while (out.size() < target) {
    // 248 = 4 * 62: rejection sampling keeps the characters uniform.
    const unsigned char b = pool.next();
    if (b < 248) out.push_back(base62[b % 62]);
  }
}

}  // namespace

std::string random_base62(std::size_t n) {
  std::string out;
  out.reserve(n);
  append_random(out, n);
  return out;
}

std::string time_ordered(std::string_view prefix, std::chrono::system_clock::time_point now) {
  auto ms = static_cast<std::uint64_t>(std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count()));
  std::string id(prefix);
  std::array<char, 8> time_part{};
  for (int i = 7; i >= 0; --i) {
    time_part[static_cast<std::size_t>(i)] = base62[ms % 62];
    ms /= 62;
  }
  id.append(time_part.data(), time_part.size());
  append_random(id, 14);
  return id;
}

}  // namespace tresse::ids
