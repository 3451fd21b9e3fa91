#include "tresse/common/thread_name.hpp"

#include <pthread.h>

#include <algorithm>
#include <cstring>

namespace tresse {

void name_this_thread(std::string_view name) {
  char buf[16];
  const std::size_t n = std::min(name.size(), sizeof buf - 1);
  std::memcpy(buf, name.data(), n);
  buf[n] = '\0';
  pthread_setname_np(pthread_self(), buf);
}

}  // namespace tresse
