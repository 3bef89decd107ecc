#include "proxy/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

namespace wsedge::log {
namespace {

std::atomic<Level> gLevel{Level::kInfo};
thread_local char tName[16] = "main";
constexpr const char* kNames[] = {"error", "warn", "info", "debug"};
constexpr std::size_t kBufferMax = 256 * 1024;

// The buffer and its writer. Never destroyed: the writer may still be
// blocked on stderr when the process exits.
struct Sink {
  std::mutex mutex;
  std::condition_variable wake;
  std::condition_variable idle;
  std::string buffer;  // lines not yet written
  std::uint64_t dropped = 0;
  std::uint64_t unreported = 0;  // dropped since the writer last said so
  bool writing = false;

  Sink() {
    std::thread([this] { run(); }).detach();
  }

  void run() {
    std::string out;
    for (;;) {
      {
        std::unique_lock lock(mutex);
        writing = false;
        idle.notify_all();
        wake.wait(lock, [this] { return !buffer.empty() || unreported != 0; });
        out.swap(buffer);
        if (unreported != 0) {
          out += "wsedge: " + std::to_string(unreported) +
                 " log lines dropped (stderr was not being read)\n";
          unreported = 0;
        }
        writing = true;
      }
      writeAll(out);
      out.clear();
    }
  }

  static void writeAll(const std::string& s) {
    std::size_t at = 0;
    while (at < s.size()) {
      const ssize_t n = ::write(STDERR_FILENO, s.data() + at, s.size() - at);
      if (n > 0) {
        at += static_cast<std::size_t>(n);
      } else if (n < 0 && errno != EINTR) {
        return;  // stderr is gone: nothing to be done about it
      }
    }
  }

  void push(const char* line, std::size_t n) {
    {
      std::lock_guard lock(mutex);
      if (buffer.size() + n > kBufferMax) {
        ++dropped;
        ++unreported;
        return;
      }
      buffer.append(line, n);
    }
    wake.notify_one();
  }
};

Sink& sink() {
  static Sink* s = new Sink;
  return *s;
}

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
  sink().push(line, static_cast<std::size_t>(n));
}

void flush(int timeoutMs) {
  Sink& s = sink();
  std::unique_lock lock(s.mutex);
  s.idle.wait_for(lock, std::chrono::milliseconds(timeoutMs),
                  [&] { return s.buffer.empty() && s.unreported == 0 && !s.writing; });
}

std::uint64_t dropped() {
  Sink& s = sink();
  std::lock_guard lock(s.mutex);
  return s.dropped;
}

}  // namespace wsedge::log
