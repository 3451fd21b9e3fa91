#include "tresse/common/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <string>

namespace tresse::log {
namespace {

level initial_level() {
  const char* env = std::getenv("TRESSE_LOG_LEVEL");
  if (env == nullptr) return level::info;
  std::string_view v(env);
  if (v == "debug") return level::debug;
  if (v == "warn") return level::warn;
  if (v == "error") return level::error;
  return level::info;
}

std::atomic<int> g_level{static_cast<int>(initial_level())};
std::mutex g_mutex;

const char* name(level l) {
  switch (l) {
    case level::debug: return "debug";
    case level::info: return "info";
    case level::warn: return "warn";
    case level::error: return "error";
  }
  return "info";
}

std::string now_iso8601() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms.count()));
  return buf;
}

}  // namespace

void set_level(level l) { g_level.store(static_cast<int>(l)); }
bool enabled(level l) { return static_cast<int>(l) >= g_level.load(std::memory_order_relaxed); }

void write(level l, std::string_view msg, const nlohmann::json& fields) {
  if (!enabled(l)) return;
  nlohmann::json line = {{"ts", now_iso8601()}, {"level", name(l)}, {"msg", msg}};
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) line[it.key()] = it.value();
  }
  // Replace invalid UTF-8 rather than throw: log input may come from the network.
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text.push_back('\n');
  std::lock_guard lock(g_mutex);
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

}  // namespace tresse::log
