// JSON log lines on stderr: {"ts":"…","level":"info","msg":"…", ...fields}.
//
//   tresse::log::info("delivered", {{"endpoint", id}, {"status", 200}});
//
// Never pass secrets, signatures or API keys as fields.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

namespace tresse::log {

enum class level { debug = 0, info, warn, error };

// Lines below `l` are dropped. Default: info (TRESSE_LOG_LEVEL=debug|info|warn|error).
void set_level(level l);
bool enabled(level l);

void write(level l, std::string_view msg, const nlohmann::json& fields = nlohmann::json::object());

inline void debug(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) {
  if (enabled(level::debug)) write(level::debug, m, f);
}
inline void info(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) {
  write(level::info, m, f);
}
inline void warn(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) {
  write(level::warn, m, f);
}
inline void error(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) {
  write(level::error, m, f);
}

}  // namespace tresse::log
