// A byte-stream connection as its user sees it: plaintext in, plaintext out,
// whether the bytes travel over a socket of the io loop, through TLS on top
// of one, or through memory in a test. The proxy's legs and the load
// generator are written against this and nothing below it.
//
// Ownership: the user holds a connection through a ConnectionPtr until it
// calls close(); from then on the connection belongs to itself, finishes
// (flushes, says goodbye) and frees itself, and no callback reaches its user
// again. So a user may be destroyed right after closing what it holds.
#pragma once

#include <openssl/base.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "io/send_queue.h"
#include "io/socket_address.h"
#include "tls/stream.h"

namespace wsedge::transport {

/// The error onReadEnd() reports when TLS failed (see Connection::tlsError()).
inline constexpr int kTlsFailure = -1000;
/// No cap on reading (see Connection::limitRecv()).
inline constexpr std::size_t kNoLimit = ~std::size_t{0};

/// What the user of a connection hears. Calls never come from inside a
/// Connection method the user itself called.
class Handler {
 public:
  /// The outcome of an outgoing connection: 0, or -errno.
  virtual void onConnected(int error) = 0;
  /// Plaintext arrived. The span is valid (and writable) during the call only.
  virtual void onData(std::span<std::byte> data) = 0;
  /// No more data will come: 0 for an orderly end (EOF, or TLS close_notify),
  /// -errno for a socket failure, kTlsFailure when TLS broke.
  virtual void onReadEnd(int error) = 0;
  /// Pending output fell to the low-water mark after notifyWhenDrained().
  virtual void onDrained() = 0;
  /// TLS only: the handshake has completed.
  virtual void onSecured() {}

 protected:
  ~Handler() = default;
};

class Connection {
 public:
  virtual ~Connection() = default;

  virtual void setHandler(Handler& handler) = 0;

  /// Where plaintext for the peer is written: reserve or write, commit(),
  /// then flush(). Only committed bytes go out.
  virtual io::SendQueue& output() = 0;
  /// Sends what is committed (sealing it into records first, over TLS).
  virtual void flush() = 0;
  /// Bytes committed and not yet sent.
  virtual std::size_t pending() const = 0;
  /// Bytes sent so far (over TLS, of records): progress, for stall checks.
  virtual std::uint64_t bytesSent() const = 0;
  /// Asks for onDrained() once pending output is at or below `below`.
  virtual void notifyWhenDrained(std::size_t below) = 0;

  /// Backpressure: stop and restart reading. Bytes already in flight when
  /// pausing are still delivered.
  virtual void pauseRecv() = 0;
  virtual void resumeRecv() = 0;
  /// A hard cap on what is read from now on (kNoLimit: none), counted down
  /// as bytes arrive; at 0 nothing is read until it is raised. Over TLS it
  /// counts records, which are never smaller than their plaintext. See
  /// io::Loop::limitRecv() for how closely the kernel keeps it.
  virtual void limitRecv(std::size_t bytes) = 0;

  /// Reports onReadEnd(error) soon, from the loop, unless the connection is
  /// closed first: for a layer above that finds out during a call of its
  /// user's that the connection is dead.
  virtual void failSoon(int error) = 0;

  /// Ends the connection and gives it up (see the top of this file).
  /// Graceful: what is committed is sent (over TLS, followed by close_notify)
  /// and the peer is given time to read it; otherwise at once.
  virtual void close(bool graceful) = 0;

  virtual std::optional<io::SocketAddress> peerAddress() const = 0;
  /// What TLS chose, once secured; null for a plain connection.
  virtual const tls::TlsSummary* tls() const { return nullptr; }
  /// The BoringSSL session of a TLS connection, while it has one (a server
  /// connection's goes once wsedge runs the records itself).
  virtual SSL* ssl() const { return nullptr; }
  /// Why TLS failed, after onReadEnd(kTlsFailure).
  virtual const char* tlsError() const { return ""; }
};

/// Closing is the only way to let go of a connection: dropping the pointer
/// closes it at once.
struct Closer {
  void operator()(Connection* c) const { c->close(false); }
};
using ConnectionPtr = std::unique_ptr<Connection, Closer>;

inline void close(ConnectionPtr& connection, bool graceful) {
  if (connection) connection.release()->close(graceful);
}

}  // namespace wsedge::transport
