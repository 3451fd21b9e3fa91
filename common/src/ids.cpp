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

namespace {

constexpr std::size_t time_chars = 8, random_chars = 14;

// base62 character -> its value (a table: an id per delivery attempt).
constexpr std::array<std::uint8_t, 256> digit_values = [] {
  std::array<std::uint8_t, 256> t{};
  for (std::size_t i = 0; i < base62.size(); ++i) t[static_cast<unsigned char>(base62[i])] = i;
  return t;
}();
int digit_of(char c) { return digit_values[static_cast<unsigned char>(c)]; }

// The last id this thread made: the next one of the same millisecond is made greater than it,
// by a random step in its low 7 characters (about 41 bits), so that one thread's ids sort in
// the order it made them and still cannot be guessed one from the one before. An id of an
// earlier millisecond (a clock set back, an older time passed in) keeps that time.
struct last_id {
  std::uint64_t ms = 0;
  std::array<char, random_chars> tail{};
};

// tail += step (base62, `step` in the low digits); false when it overflowed.
bool add_step(std::array<char, random_chars>& tail, const std::array<char, 7>& step) {
  int carry = 0;
  for (std::size_t i = 0; i < random_chars; ++i) {
    const std::size_t at = random_chars - 1 - i;
    int d =
        digit_of(tail[at]) + carry + (i < step.size() ? digit_of(step[step.size() - 1 - i]) : 0);
    if (i == 0) d += 1;  // never a step of 0
    carry = d / 62;
    tail[at] = base62[d % 62];
  }
  return carry == 0;
}

}  // namespace

std::string time_ordered(std::string_view prefix, std::chrono::system_clock::time_point now) {
  auto ms = static_cast<std::uint64_t>(std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count()));
  thread_local last_id last;
  std::array<char, random_chars> tail;
  if (ms != last.ms) {
    thread_pool().fill_base62(tail.data(), tail.size());
  } else {
    tail = last.tail;
    std::array<char, 7> step;
    thread_pool().fill_base62(step.data(), step.size());
    if (!add_step(tail, step)) {  // past the millisecond's last id: the next millisecond
      ++ms;
      thread_pool().fill_base62(tail.data(), tail.size());
    }
  }
  last = {ms, tail};
  // Written in place: prefix, 8 time characters, 14 random ones.
  std::string id;
  const std::size_t size = prefix.size() + time_chars + random_chars;  // not the callback's
  id.resize_and_overwrite(size, [&](char* p, std::size_t) {
    std::copy(prefix.begin(), prefix.end(), p);
    char* time_part = p + prefix.size();
    for (int i = time_chars - 1; i >= 0; --i) {
      time_part[i] = base62[ms % 62];
      ms /= 62;
    }
    std::copy(tail.begin(), tail.end(), time_part + time_chars);
    return size;
  });
  return id;
}

}  // namespace tresse::ids
