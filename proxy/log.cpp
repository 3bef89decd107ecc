#include "proxy/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace wsedge::log {
namespace {
std::atomic<Level> gLevel{Level::kInfo};
thread_local char tName[16] = "main";
constexpr const char* kNames[] = {"error", "warn", "info", "debug"};
}  // namespace

void setLevel(Level level) {
  gLevel.store(level, std::memory_order_relaxed);
}
bool enabled(Level level) {
  return level <= gLevel.load(std::memory_order_relaxed);
}

std::optional<Level> parseLevel(std::string_view name) {
  for (int i = 0; i < 4; ++i) {
    if (name == kNames[i]) return static_cast<Level>(i);
  }
  return std::nullopt;
}

void setThreadName(std::string_view name) {
  const std::size_t n = std::min(name.size(), sizeof tName - 1);
  std::memcpy(tName, name.data(), n);
  tName[n] = 0;
}

void write(Level level, const char* format, ...) {
  char line[1024];
  int n =
      std::snprintf(line, sizeof line, "wsedge[%s] %s: ", tName, kNames[static_cast<int>(level)]);
  va_list args;
  va_start(args, format);
  n += std::vsnprintf(line + n, sizeof line - static_cast<std::size_t>(n), format, args);
  va_end(args);
  if (n >= static_cast<int>(sizeof line) - 1) n = sizeof line - 2;
  line[n++] = '\n';
  // One write per line: lines from different workers never interleave.
  [[maybe_unused]] const ssize_t w = ::write(STDERR_FILENO, line, static_cast<std::size_t>(n));
}

}  // namespace wsedge::log
