// The JSON access log: formatting a session's line, per-worker buffers and
// the writer thread that empties them into the file.
#include "proxy/telemetry/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "proxy/log.h"

namespace wsedge::telemetry {
namespace {

using Json = nlohmann::ordered_json;

constexpr auto kWritePeriod = std::chrono::milliseconds(100);
constexpr auto kStopWait = std::chrono::seconds(1);
constexpr std::size_t kKeys = 26;

// RFC 3339 in UTC with milliseconds: "2026-12-01T23:40:01.123Z".
std::string formatTime(std::int64_t unixMs) {
  // Floor division, so times before the epoch still get 0..999 ms.
  std::int64_t seconds = unixMs / 1000;
  std::int64_t ms = unixMs % 1000;
  if (ms < 0) {
    ms += 1000;
    --seconds;
  }
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[80];  // room for any int fields, which keeps -Wformat-truncation quiet
  std::snprintf(out, sizeof out, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return out;
}

template <typename T>
Json orNull(const std::optional<T>& value) {
  return value ? Json(*value) : Json(nullptr);
}

int openFile(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

}  // namespace

std::string formatAccessLine(const AccessEntry& e) {
  Json line = Json::object();
  // The keys are distinct by construction: append them in order instead of
  // letting ordered_map search for each one.
  auto& fields = line.get_ref<Json::object_t&>();
  fields.reserve(kKeys);
  auto add = [&](const char* key, Json value) { fields.emplace_back(key, std::move(value)); };
  add("time", formatTime(e.timeUnixMs));
  add("client", e.client.empty() ? Json(nullptr) : Json(e.client));
  add("sni", orNull(e.sni));
  add("method", orNull(e.method));
  add("host", orNull(e.host));
  add("path", orNull(e.path));
  add("route", orNull(e.route));
  add("pool", orNull(e.pool));
  add("backend", orNull(e.backend));
  add("subprotocol", orNull(e.subprotocol));
  add("tls_version", orNull(e.tlsVersion));
  add("tls_cipher", orNull(e.tlsCipher));
  add("status", e.status == 0 ? Json(nullptr) : Json(e.status));
  add("handshake_ms", orNull(e.handshakeMs));
  add("duration_ms", e.durationMs);
  add("messages_from_client", e.messagesFromClient);
  add("messages_from_backend", e.messagesFromBackend);
  add("bytes_from_client", e.bytesFromClient);
  add("bytes_from_backend", e.bytesFromBackend);
  add("close_code_from_client", orNull(e.closeCodeFromClient));
  add("close_reason_from_client", orNull(e.closeReasonFromClient));
  add("close_code_from_backend", orNull(e.closeCodeFromBackend));
  add("close_reason_from_backend", orNull(e.closeReasonFromBackend));
  add("close_code_to_client", orNull(e.closeCodeToClient));
  add("close_code_to_backend", orNull(e.closeCodeToBackend));
  add("closed_first", orNull(e.closedFirst));
  // Peers control most of these strings: replace invalid UTF-8 rather than
  // throw, and escape control characters, so the line stays one valid line.
  std::string out = line.dump(-1, ' ', false, Json::error_handler_t::replace);
  out += '\n';
  return out;
}

struct AccessLog::State {
  // One per worker, on its own cache line: workers never share a lock.
  struct alignas(64) Buffer {
    std::mutex mutex;  // the worker, and the writer only to swap `data` out
    std::string data;  // never longer than capacity
    std::atomic<std::uint64_t> lines{0};
    std::atomic<std::uint64_t> dropped{0};
  };

  State(std::string p, int f, bool out, unsigned workers, std::size_t cap)
      : path(std::move(p)), fd(f), toStdout(out), capacity(cap), buffers(workers) {
    // Reserved once: a worker's append never allocates, and the swap with
    // the writer's string (reserved the same) keeps it so.
    for (Buffer& b : buffers) b.data.reserve(capacity);
  }
  ~State() {
    if (!toStdout) ::close(fd);
  }

  void run();
  void writeBuffers(std::string& out);
  void reopenIfWanted();
  void writeAll(const std::string& bytes);

  const std::string path;
  int fd;  // the writer's alone once it runs
  const bool toStdout;
  const std::size_t capacity;
  std::vector<Buffer> buffers;
  bool failing = false;  // the writer's: the last write failed (warned once)

  // Workers set `nudged` without the lock (they never take it); a wake-up
  // lost to that is made up by the next period.
  std::atomic<bool> nudged{false};
  std::atomic<bool> reopenWanted{false};  // also read before each write, without the lock

  std::mutex mutex;  // guards what follows
  std::condition_variable wake;
  std::condition_variable idle;
  std::uint64_t flushWanted = 0;  // flush() tickets handed out
  std::uint64_t flushDone = 0;    // tickets whose pass has been written
  bool stop = false;
  bool stopped = false;
};

void AccessLog::State::run() {
  log::setThreadName("access_log");
  std::string out;
  out.reserve(capacity);
  std::unique_lock lock(mutex);
  for (;;) {
    wake.wait_for(lock, kWritePeriod, [this] {
      return stop || flushWanted != flushDone || nudged.load() || reopenWanted.load();
    });
    nudged = false;
    // Everything written before these were asked for is in the buffers now.
    const std::uint64_t ticket = flushWanted;
    const bool stopping = stop;
    lock.unlock();
    writeBuffers(out);
    lock.lock();
    flushDone = ticket;
    if (stopping) stopped = true;
    idle.notify_all();
    if (stopping) return;
  }
}

void AccessLog::State::writeBuffers(std::string& out) {
  reopenIfWanted();  // even with nothing to write, so the new file appears
  for (Buffer& b : buffers) {
    {
      std::lock_guard lock(b.mutex);
      out.swap(b.data);
    }
    if (out.empty()) continue;
    // Again here: a line written after reopen() returned must reach the new file.
    reopenIfWanted();
    writeAll(out);
    out.clear();
  }
}

void AccessLog::State::reopenIfWanted() {
  if (!reopenWanted.exchange(false) || toStdout) return;
  const int newFd = openFile(path);
  if (newFd < 0) {
    WSEDGE_LOG(kWarn, "cannot reopen access log %s: %s (still writing to the old file)",
               path.c_str(), std::strerror(errno));
    return;
  }
  ::close(fd);
  fd = newFd;
}

// Blocking is fine here: this is the writer thread, never a worker.
void AccessLog::State::writeAll(const std::string& bytes) {
  std::size_t at = 0;
  while (at < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + at, bytes.size() - at);
    if (n > 0) {
      at += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      // Disk full, pipe closed...: these lines are lost. Say so once, not per pass.
      if (!failing) {
        WSEDGE_LOG(kWarn, "access log %s: write failed: %s (lines lost until it recovers)",
                   path.c_str(), n < 0 ? std::strerror(errno) : "wrote nothing");
      }
      failing = true;
      return;
    }
  }
  failing = false;
}

std::unique_ptr<AccessLog> AccessLog::open(const std::string& path, unsigned workers,
                                           std::size_t bufferBytesPerWorker, std::string* error) {
  const bool toStdout = path == "stdout";
  const int fd = toStdout ? STDOUT_FILENO : openFile(path);
  if (fd < 0) {
    if (error) *error = "cannot open access log " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  auto state =
      std::make_shared<State>(path, fd, toStdout, std::max(workers, 1u), bufferBytesPerWorker);
  return std::unique_ptr<AccessLog>(new AccessLog(std::move(state)));
}

AccessLog::AccessLog(std::shared_ptr<State> state) : state_(std::move(state)) {
  // The thread holds the state too, so it may be let go if it is stuck.
  writer_ = std::thread([state = state_] { state->run(); });
}

AccessLog::~AccessLog() {
  State& s = *state_;
  bool stopped;
  {
    std::unique_lock lock(s.mutex);
    s.stop = true;  // the writer makes one last pass over the buffers, then ends
    s.wake.notify_one();
    stopped = s.idle.wait_for(lock, kStopWait, [&] { return s.stopped; });
  }
  // A writer blocked on output nobody reads (a stdout pipe) must not hold up
  // the exit: let it go; the last one holding the state closes the file.
  if (stopped) {
    writer_.join();
  } else {
    writer_.detach();
  }
}

void AccessLog::write(unsigned worker, std::string_view line) {
  State& s = *state_;
  // A wrong index only costs contention, never safety: the buffer is locked.
  State::Buffer& b = s.buffers[worker % s.buffers.size()];
  b.lines.fetch_add(1, std::memory_order_relaxed);
  const std::size_t half = s.capacity / 2;
  bool passedHalf;
  {
    std::lock_guard lock(b.mutex);
    const std::size_t used = b.data.size();
    if (line.size() > s.capacity - used) {
      b.dropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    b.data.append(line);
    passedHalf = used < half && b.data.size() >= half;
  }
  if (passedHalf) {
    s.nudged = true;
    s.wake.notify_one();
  }
}

void AccessLog::reopen() {
  State& s = *state_;
  std::lock_guard lock(s.mutex);  // not a worker: it may take the lock, and no wake-up is lost
  s.reopenWanted = true;
  s.wake.notify_one();
}

bool AccessLog::flush(int timeoutMs) {
  State& s = *state_;
  std::unique_lock lock(s.mutex);
  const std::uint64_t ticket = ++s.flushWanted;
  s.wake.notify_one();
  return s.idle.wait_for(lock, std::chrono::milliseconds(timeoutMs),
                         [&] { return s.flushDone >= ticket; });
}

std::uint64_t AccessLog::dropped() const {
  std::uint64_t n = 0;
  for (const State::Buffer& b : state_->buffers) n += b.dropped.load(std::memory_order_relaxed);
  return n;
}

std::uint64_t AccessLog::written() const {
  std::uint64_t n = 0;
  for (const State::Buffer& b : state_->buffers) n += b.lines.load(std::memory_order_relaxed);
  return n;
}

}  // namespace wsedge::telemetry
