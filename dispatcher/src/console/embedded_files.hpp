// The web console's files (dispatcher/console/), embedded at build time by
// dispatcher/console/embed.cmake: the dispatcher binary is all the console needs.
#pragma once

#include <span>
#include <string_view>

namespace tresse::dispatcher::console {

struct embedded_file {
  std::string_view path;  // relative to dispatcher/console/: "index.html", "ops/index.html"
  std::string_view bytes;
};

std::span<const embedded_file> embedded_files();

}  // namespace tresse::dispatcher::console
