// The per-worker event loop: one io_uring, one provided-buffer ring, one
// timer wheel, and the table of connections it owns. It moves bytes and
// reports what happened; it knows nothing of WebSocket.
//
// Connections are named by ConnId (slot + generation). Every operation in
// flight is counted against its connection, and a slot is reused only when
// its count is back to zero, so no completion can ever reach the wrong
// connection; a stale ConnId passed to the loop is ignored.
#pragma once

#include <cerrno>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "io/buffer_ring.h"
#include "io/mailbox.h"
#include "io/op_tag.h"
#include "io/ring.h"
#include "io/send_queue.h"
#include "io/socket_address.h"
#include "io/timer_wheel.h"

namespace wsedge::io {

struct ConnId {
  std::uint32_t slot = 0;
  std::uint32_t gen = 0;  // 0: no connection
  explicit operator bool() const { return gen != 0; }
  bool operator==(const ConnId&) const = default;
};

/// What a connection's owner hears. Every call happens on the loop's thread,
/// never from inside a Loop method the owner itself called.
class StreamHandler {
 public:
  /// Bytes arrived. The span lives in a shared receive buffer that goes
  /// back to the kernel when the call returns; it may be modified in place.
  virtual void onData(ConnId id, std::span<std::byte> data) = 0;
  /// No more data will come: 0 for an orderly end of stream, -errno for a
  /// failure (including a failed send). Reported once.
  virtual void onReadEnd(ConnId id, int error) = 0;
  /// The outcome of Loop::connect(): 0 or -errno.
  virtual void onConnected(ConnId id, int error) = 0;
  /// Pending output fell to the low-water mark after notifyWhenDrained().
  virtual void onDrained(ConnId id) = 0;
  /// The connection is gone and its socket closed; id is stale from now on.
  virtual void onClosed(ConnId id) = 0;

 protected:
  ~StreamHandler() = default;
};

class AcceptHandler {
 public:
  /// A new connection on listener `listener`; the callee owns fd.
  virtual void onAccept(int listener, int fd) = 0;

 protected:
  ~AcceptHandler() = default;
};

class Loop final : private TimerHandler, private StreamHandler {
 public:
  struct Options {
    std::uint32_t ringEntries = 4096;
    std::uint32_t recvBufferSize = 16384;
    std::uint32_t recvBufferCount = 1024;  // power of two
    std::size_t lowWater = 256 * 1024;     // onDrained threshold
    std::uint64_t lingerMs = 2000;         // graceful close: flush and wait for EOF this long
    std::uint32_t tickMs = 100;            // timer resolution, and the longest idle wait
    /// Connections (accepted and outgoing) this loop holds at most; beyond
    /// it adopt() and connect() refuse with kTableFull.
    std::uint32_t maxConnections = OpTag::kMaxSlots;
    /// Slots beyond maxConnections kept for answering refused clients
    /// (refuse()), so that the answer is flushed and closed gracefully.
    std::uint32_t refusalReserve = 64;
  };

  /// The error connect() reports when the connection table is full.
  static constexpr int kTableFull = -ENFILE;

  explicit Loop(const Options& options);
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // --- listeners -----------------------------------------------------------
  /// Binds a SO_REUSEPORT listener and starts accepting. Returns the
  /// listener's index, or -1 with a message naming the address in *error.
  int listen(const SocketAddress& address, AcceptHandler& handler, std::string* error,
             int backlog = 4096);
  /// Before any worker listens: whether another process already listens on
  /// this address. (The workers' SO_REUSEPORT sockets would otherwise join
  /// it and take half its traffic.) A plain bind without SO_REUSEPORT
  /// tells; false with the reason in *error.
  static bool probeFree(const SocketAddress& address, std::string* error);
  /// Stops accepting on every listener and closes them.
  void stopListening();
  /// Stops accepting on one listener and closes it; its index is not reused.
  void closeListener(int index);

  // --- connections ---------------------------------------------------------
  /// Takes an accepted socket and starts reading from it. Returns an empty
  /// ConnId when the table is full; the caller still owns fd then.
  ConnId adopt(int fd, StreamHandler& handler);
  /// An accepted socket that is not served (the table is full, say): sends
  /// `bytes` and closes it gracefully (the answer is flushed and the peer's
  /// end awaited, so its request does not turn the close into a reset),
  /// from a reserve of slots beyond maxConnections. With the reserve gone
  /// too, it is closed at once.
  void refuse(int fd, std::span<const std::byte> bytes);
  /// Starts connecting; onConnected follows. On immediate failure (no
  /// socket could be made, or kTableFull) returns an empty ConnId and sets *error.
  ConnId connect(const SocketAddress& address, StreamHandler& handler, int* error);
  bool alive(ConnId id) const;
  void setHandler(ConnId id, StreamHandler& handler);

  /// Where to write what this connection should send. Commit, then flush().
  /// The connection must be alive (a stale id aborts: it is a bug).
  SendQueue& output(ConnId id);
  /// Committed bytes not yet sent (0 for a closed connection).
  std::size_t pending(ConnId id) const;
  /// Sends what is committed, at the end of the current batch.
  void flush(ConnId id);
  /// Asks for onDrained once pending output is at or below `below` (the
  /// loop's low-water mark by default).
  void notifyWhenDrained(ConnId id, std::size_t below);
  void notifyWhenDrained(ConnId id) { notifyWhenDrained(id, options_.lowWater); }
  std::size_t lowWater() const { return options_.lowWater; }
  /// Bytes this connection has sent so far (progress, for stall checks).
  std::uint64_t bytesSent(ConnId id) const;

  /// Backpressure: stop and restart reading. Data already in flight when
  /// pausing is still delivered.
  void pauseRecv(ConnId id);
  void resumeRecv(ConnId id);
  /// A hard cap: deliver at most `bytes` more from now on (kNoLimit: no
  /// cap), counted down as data is delivered; at 0 the connection is not
  /// read until the owner raises it. Where the kernel supports it (a
  /// multishot receive with a byte limit, Linux 6.17), no more than the cap
  /// and the rest of one receive buffer is ever delivered; elsewhere a
  /// multishot receive may run past it by up to a few dozen buffers.
  void limitRecv(ConnId id, std::size_t bytes);
  static constexpr std::size_t kNoLimit = ~std::size_t{0};

  /// Closes the connection. Graceful: send what is committed, shut down the
  /// write side, and wait (up to lingerMs) for the peer's end of stream so
  /// the last bytes are not lost to a reset. Otherwise at once. No callback
  /// but onClosed follows either way.
  void close(ConnId id, bool graceful);

  std::optional<SocketAddress> peerAddress(ConnId id) const;

  // --- time ----------------------------------------------------------------
  TimerWheel& timers() { return timers_; }
  std::uint64_t now() const { return timers_.now(); }

  // --- running -------------------------------------------------------------
  /// Runs until quit() has been called and every connection and listener is closed.
  void run();
  /// One iteration: submit, wait up to waitNs for completions (or a tick),
  /// dispatch them, fire timers. For tests and embedding.
  void poll(std::uint64_t waitNs);
  /// Asks run() to return once everything is closed. Loop thread only.
  void quit() { quitting_ = true; }
  /// Runs task on the loop's thread after the completions being handled.
  /// Any thread; see Mailbox.
  void post(Mailbox::Task task) { mailbox_.post(std::move(task)); }
  /// Runs after every batch of completions (and at least once per tick). It
  /// returns the longest the loop may now wait, in nanoseconds (0: a tick),
  /// so a sender can keep a schedule finer than the timer wheel's.
  void setIterationHook(std::function<std::uint64_t()> hook) { onIteration_ = std::move(hook); }

  std::size_t connectionCount() const { return live_; }
  /// What the loop keeps per connection (idle-state accounting).
  static std::size_t connectionStateSize();
  /// Times a multishot recv stopped because the buffer ring was empty (and
  /// was re-armed once buffers came back).
  std::uint64_t noBufferStops() const { return noBufferStops_; }
  /// Iterations of poll(), and submission entries handed to the kernel.
  std::uint64_t iterations() const { return iterations_; }
  std::uint64_t submitted() const { return ring_.taken(); }
  ChunkPool& chunkPool() { return chunks_; }
  /// Times adopt() or connect() found the connection table full.
  std::uint64_t tableFullRefusals() const { return tableFull_; }
  /// Whether receives can be capped by the kernel (see limitRecv()).
  bool recvLimitSupported() const { return recvLimitSupported_; }

 private:
  // A timer that knows which connection it belongs to.
  struct SlotTimer : Timer {
    std::uint32_t slot = 0;
  };

  // What a sendmsg of several chunks reads until it completes: taken from
  // the loop's spares only then, so an idle connection holds none.
  static constexpr std::size_t kMaxIov = 8;
  struct SendVector {
    msghdr msg;
    iovec iov[kMaxIov];
  };

  struct Conn {
    int fd = -1;
    std::uint32_t gen = 0;
    StreamHandler* handler = nullptr;
    SendQueue out;
    std::uint16_t inflight = 0;  // operations this connection has in the ring
    bool recvArmed = false;
    bool recvWanted = true;  // not paused
    bool readEnded = false;
    bool errorReported = false;
    bool sending = false;
    bool connecting = false;
    bool closing = false;   // no more callbacks but onClosed
    bool graceful = false;  // flush, shut down, then wait for EOF
    bool shutDown = false;
    bool dirty = false;
    bool wantDrain = false;
    bool cancelIssued = false;
    bool recvCancelling = false;  // a cancel of the receive is in flight
    std::size_t drainBelow = 0;
    std::size_t recvBudget = kNoLimit;  // bytes that may still be delivered
    std::size_t armedLimit = kNoLimit;  // what the armed receive may still take
    SlotTimer linger;
    SocketAddress remote;
    SendVector* vector = nullptr;  // a sendmsg's, while in flight
    explicit Conn(ChunkPool& pool) : out(pool) {}
  };

  struct Listener {
    int fd = -1;
    AcceptHandler* handler = nullptr;
    bool armed = false;
    bool closing = false;
  };

  Conn* find(ConnId id);
  const Conn* find(ConnId id) const;
  ConnId allocate(int fd, StreamHandler& handler, bool fromReserve = false);
  std::uint64_t tag(Op op, std::uint32_t slot) const {
    return OpTag{op, slot, conns_[slot].gen}.encode();
  }

  void armRecv(std::uint32_t slot);
  void cancelRecv(std::uint32_t slot);
  /// Cancels an armed receive that is paused or may take more than the cap.
  void stopRecvIfUnwanted(std::uint32_t slot);
  void armAccept(int listener);
  void armWake();
  void submitSend(std::uint32_t slot);
  void cancelAll(std::uint32_t slot);
  void advanceClose(std::uint32_t slot);
  void reportError(std::uint32_t slot, int error);
  void flushDirty();
  void deliverClosed();

  void dispatch(const io_uring_cqe& cqe);
  void onRecv(const OpTag& t, const io_uring_cqe& cqe);
  void onSend(const OpTag& t, int res);
  void onConnect(const OpTag& t, int res);
  void onAcceptCqe(const OpTag& t, const io_uring_cqe& cqe);
  void onTimer(Timer& timer) override;  // linger expired, or accept re-arm
  // The handler of refused connections: nothing to hear.
  void onData(ConnId, std::span<std::byte>) override {}
  void onReadEnd(ConnId, int) override {}
  void onConnected(ConnId, int) override {}
  void onDrained(ConnId) override {}
  void onClosed(ConnId) override {}

  Options options_;
  Ring ring_;
  std::unique_ptr<BufferRing> buffers_;
  TimerWheel timers_;
  ChunkPool chunks_;
  std::deque<Conn> conns_;          // stable addresses: timers live inside
  std::deque<SendVector> vectors_;  // as many as sendmsgs were ever in flight at once
  std::vector<SendVector*> freeVectors_;
  std::vector<std::uint32_t> freeSlots_;
  std::vector<std::uint32_t> dirty_;
  std::vector<std::uint32_t> rearmRecv_;  // recv stopped by ENOBUFS
  std::vector<std::pair<StreamHandler*, ConnId>> closed_;
  std::vector<Listener> listeners_;
  Timer acceptRetry_;
  Timer poolDecay_;  // once a second: ChunkPool::decay()
  std::size_t live_ = 0;
  std::size_t listenersOpen_ = 0;
  bool quitting_ = false;
  Mailbox mailbox_;
  std::uint64_t wakeValue_ = 0;
  std::function<std::uint64_t()> onIteration_;
  std::uint64_t nextWaitNs_ = 0;  // what the iteration hook asked for
  std::uint64_t noBufferStops_ = 0;
  std::uint64_t iterations_ = 0;
  std::uint64_t tableFull_ = 0;
  bool recvLimitSupported_ = true;  // until the kernel says otherwise
  bool submitErrorSaid_ = false;
};

}  // namespace wsedge::io
