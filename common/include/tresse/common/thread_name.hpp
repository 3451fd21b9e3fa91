// Names the calling thread, as `top -H`, `perf` and /proc/PID/task/*/comm show it: a dispatcher's
// threads are otherwise all "tresse-dispatch", and a busy one cannot be told from another.
#pragma once

#include <string_view>

namespace tresse {

// Linux keeps at most 15 bytes; longer names are cut. Failure is ignored: a name is a label.
void name_this_thread(std::string_view name);

}  // namespace tresse
