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
  // Fills out[0, n) with uniformly random base62 characters.
  void fill_base62(char* out, std::size_t n) {
    const unsigned gen = fork_generation.load(std::memory_order_relaxed);
    if (gen != generation_) refill(gen);
    for (std::size_t k = 0; k < n;) {
      if (used_ == bytes_.size()) refill(gen);
      const unsigned char b = bytes_[used_];
      bytes_[used_++] = 0;  // a byte handed out is not kept
      // 248 = 4 * 62: rejection sampling keeps the characters uniform.
      if (b < 248) out[k++] = base62[b % 62];
    }
  }

 private:
  void refill(unsigned gen) {
    if (RAND_bytes(bytes_.data(), static_cast<int>(bytes_.size())) != 1) {
      // The CSPRNG failing is not recoverable; ids and keys must not collide or be guessed.
      std::abort();
    }
    used_ = 0;
    generation_ = gen;
  }

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

}  // namespace

std::string random_base62(std::size_t n) {
  std::string out;
  // The callback's size is not used: libstdc++ 12 passes the grown capacity there.
  out.resize_and_overwrite(n, [n](char* p, std::size_t) {
    thread_pool().fill_base62(p, n);
    return n;
  });
  return out;
}

std::string time_ordered(std::string_view prefix, std::chrono::system_clock::time_point now) {
  auto ms = static_cast<std::uint64_t>(std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count()));
  // Written in place: prefix, 8 time characters, 14 random ones.
  std::string id;
  const std::size_t size = prefix.size() + 8 + 14;  // not the callback's (random_base62)
  id.resize_and_overwrite(size, [&](char* p, std::size_t) {
    std::copy(prefix.begin(), prefix.end(), p);
    char* time_part = p + prefix.size();
    for (int i = 7; i >= 0; --i) {
      time_part[i] = base62[ms % 62];
      ms /= 62;
    }
    thread_pool().fill_base62(time_part + 8, 14);
    return size;
  });
  return id;
}

}  // namespace tresse::ids
