#pragma once
#include <string>

namespace sb::app {
// Configures the default spdlog logger: stderr, `level` (trace..error),
// `format` "text" or "json" (one JSON object per line).
void setupLogging(const std::string& level, const std::string& format);
}  // namespace sb::app
