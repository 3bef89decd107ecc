// The JSON access log: one line per WebSocket session when it ends, in a
// file or on stdout.
//
// Workers never block on it: each worker appends to a bounded buffer of its
// own, and a writer thread empties the buffers at least every 100 ms. A line
// that does not fit is dropped and counted, never waited for.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace wsedge::telemetry {

/// What the access log says of one session. Absent values come out as null.
struct AccessEntry {
  std::int64_t timeUnixMs = 0;  // wall clock when the session ended, ms since the epoch
  std::string client;           // "addr:port"; empty: null
  std::optional<std::string> sni;
  std::optional<std::string> method;
  std::optional<std::string> host;
  std::optional<std::string> path;
  std::optional<std::string> route;
  std::optional<std::string> pool;
  std::optional<std::string> backend;
  std::optional<std::string> subprotocol;
  std::optional<std::string> tlsVersion;
  std::optional<std::string> tlsCipher;
  int status = 0;  // 101, or the HTTP status the client was answered with; 0: null
  std::optional<std::uint64_t> handshakeMs;
  std::uint64_t durationMs = 0;
  std::uint64_t messagesFromClient = 0;
  std::uint64_t messagesFromBackend = 0;
  std::uint64_t bytesFromClient = 0;
  std::uint64_t bytesFromBackend = 0;
  std::optional<std::uint16_t> closeCodeFromClient;
  std::optional<std::string> closeReasonFromClient;
  std::optional<std::uint16_t> closeCodeFromBackend;
  std::optional<std::string> closeReasonFromBackend;
  std::optional<std::uint16_t> closeCodeToClient;
  std::optional<std::uint16_t> closeCodeToBackend;
  std::optional<std::string> closedFirst;  // "client", "backend" or "proxy"
};

/// One JSON object and '\n'. Strings may hold any bytes (they come from
/// peers): invalid UTF-8 becomes U+FFFD and control characters are escaped,
/// so the result is always valid JSON on exactly one line.
std::string formatAccessLine(const AccessEntry& entry);

class AccessLog {
 public:
  /// path "stdout" is standard output; any other path is opened for
  /// appending (created 0644). On failure: null, and *error says why.
  static std::unique_ptr<AccessLog> open(const std::string& path, unsigned workers,
                                         std::size_t bufferBytesPerWorker, std::string* error);
  /// Writes what is buffered (waiting up to a second), then stops the writer.
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  /// Appends one complete line (with its '\n') to worker's buffer. Called by
  /// that worker only (0 <= worker < workers). Never blocks on output: a line
  /// that does not fit in what is left of the buffer is dropped and counted.
  void write(unsigned worker, std::string_view line);
  /// From any thread (SIGUSR1, for logrotate): the writer closes and reopens
  /// the path before its next write. Lines written after this call returns
  /// go to the new file. Nothing for stdout; if the path cannot be opened,
  /// the old file is kept and a warning logged.
  void reopen();
  /// Waits up to timeoutMs until everything written before the call is out.
  /// True if it is.
  bool flush(int timeoutMs = 1000);

  /// Lines dropped because their worker's buffer was full, over all workers.
  std::uint64_t dropped() const;
  /// Lines handed to write(), dropped ones included.
  std::uint64_t written() const;

 private:
  struct State;  // shared with the writer thread, which may outlive us (see the destructor)
  explicit AccessLog(std::shared_ptr<State> state);

  std::shared_ptr<State> state_;
  std::thread writer_;
};

}  // namespace wsedge::telemetry
