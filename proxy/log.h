// One-line log messages on stderr: "wsedge[w1] warn: ...". Workers call it
// only on events that are rare per connection (failures, closes at debug).
//
// No call ever blocks a worker on stderr: lines go into a bounded buffer
// that a writer thread empties; when stderr is not being read and the
// buffer is full, lines are dropped and counted, and the count is said once
// the writer gets through again.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace wsedge::log {

enum class Level : std::uint8_t { kError, kWarn, kInfo, kDebug };

void setLevel(Level level);
bool enabled(Level level);
std::optional<Level> parseLevel(std::string_view name);
/// Names the calling thread in messages ("main", "w0", ...).
void setThreadName(std::string_view name);

void write(Level level, const char* format, ...) __attribute__((format(printf, 2, 3)));

/// Waits up to timeoutMs for what is buffered to be written (at exit).
void flush(int timeoutMs = 1000);
/// Lines dropped so far because stderr was not keeping up.
std::uint64_t dropped();

}  // namespace wsedge::log

#define WSEDGE_LOG(level, ...)                                        \
  do {                                                                \
    if (::wsedge::log::enabled(::wsedge::log::Level::level))          \
      ::wsedge::log::write(::wsedge::log::Level::level, __VA_ARGS__); \
  } while (0)
