// How a session ended, and the record of it. Every way a session ends goes
// through Session::end(Outcome); the record it fills is what the log (and,
// later, metrics and the access log) read, and nothing else.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wsedge::proxy {

enum class Side : std::uint8_t { kNone, kClient, kBackend, kProxy };

enum class Cause : std::uint8_t {
  kNormalClose,     // a close handshake, or a refused upgrade relayed in full
  kRefused,         // the request was answered with an HTTP error, never upgraded
  kProtocolError,   // a peer broke RFC 6455 or HTTP
  kTimeout,         // a deadline passed
  kTransportError,  // a connection dropped or failed (TCP or TLS)
  kShutdown,        // the proxy is stopping
  kStalled,         // a side read nothing of its queue for send_timeout
  kUnresponsive,    // a side did not answer the proxy's ping within ping_timeout
  kOverRate,        // the client sent messages faster than message_rate (over_rate: close)
  kDrained,         // closed by a drain: the proxy stopping, or its backend drained
  kTooSlow,         // pushes for the client passed pubsub.queue (1013)
};
inline constexpr std::size_t kCauseCount = 11;

std::string_view sideName(Side side);
std::string_view causeName(Cause cause);

/// How the connections are closed.
enum class Ending : std::uint8_t {
  kReply,   // before the 101: answer the client with an HTTP error, drop the backend
  kFinish,  // send what is queued (and close frames, in a tunnel), then close both
  kDrop,    // close both at once
};

struct Outcome {
  Side side = Side::kProxy;  // which side ended the session
  Cause cause = Cause::kNormalClose;
  Ending ending = Ending::kFinish;
  int status = 0;                // kReply: the HTTP status
  std::string_view detail;       // kReply: the one-line reason, for the body and the log
  std::string_view extraFields;  // kReply: complete "Name: value\r\n" lines
  // kFinish in a tunnel: the proxy's own close frame to each side (0: none).
  std::uint16_t toClient = 0;
  std::string_view toClientReason;
  std::uint16_t toBackend = 0;
  std::string_view toBackendReason;
  bool retryAllowed = false;  // another backend could have served this request

  static Outcome make(Side side, Cause cause, Ending ending) {
    Outcome o;
    o.side = side;
    o.cause = cause;
    o.ending = ending;
    return o;
  }
  static Outcome reply(Side side, Cause cause, int status, std::string_view detail,
                       std::string_view extraFields = {}) {
    Outcome o = make(side, cause, Ending::kReply);
    o.status = status;
    o.detail = detail;
    o.extraFields = extraFields;
    return o;
  }
  static Outcome drop(Side side, Cause cause) { return make(side, cause, Ending::kDrop); }
  static Outcome finish(Side side, Cause cause) { return make(side, cause, Ending::kFinish); }
  /// kFinish with the proxy's own close frames.
  static Outcome close(Side side, Cause cause, std::uint16_t toClient,
                       std::string_view clientReason, std::uint16_t toBackend,
                       std::string_view backendReason) {
    Outcome o = make(side, cause, Ending::kFinish);
    o.toClient = toClient;
    o.toClientReason = clientReason;
    o.toBackend = toBackend;
    o.toBackendReason = backendReason;
    return o;
  }
};

/// A close frame as it crossed the proxy: 0 for none, 1005 for one without a code.
struct CloseRecord {
  std::uint16_t code = 0;
  std::string reason;
};

struct SessionRecord {
  std::uint64_t generation = 0;              // of the snapshot the session was accepted with
  std::string_view listener, pool, backend;  // names from that snapshot; empty if none
  Side endedBy = Side::kNone;
  Cause cause = Cause::kNormalClose;
  int status = 0;           // 101 once upgraded, else the HTTP status the client got (0: none)
  std::string_view method;  // of the request, when the access log is on
  bool retryAllowed = false;
  std::uint32_t attempts = 0;  // backend connections tried
  CloseRecord fromClient, toBackend, fromBackend, toClient;
  Side closedFirst = Side::kNone;  // whose close frame came first (kProxy: the proxy's own)
  std::uint64_t messagesFromClient = 0, messagesFromBackend = 0;
  std::uint64_t bytesFromClient = 0, bytesFromBackend = 0;  // payload bytes
  std::uint64_t durationMs = 0;
  bool http = false;           // a plain HTTP request, not an upgrade
  std::uint32_t requests = 0;  // plain requests this connection served before this record
  bool idle = false;           // a keep-alive connection closed between requests
  // What the access log adds; filled only while it is on.
  bool detailed = false;
  std::string_view route;
  std::string client, sni, host, target, subprotocol, tlsVersion, tlsCipher;
  std::optional<std::uint64_t> handshakeMs;  // accept to 101

  /// One line, the same format for every session.
  std::string describe() const;
};

}  // namespace wsedge::proxy
