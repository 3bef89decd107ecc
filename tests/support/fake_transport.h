// An in-memory transport for unit tests of whatever is written against
// transport::Connection (the session and its legs, TLS on top): no kernel,
// no sockets, no threads. The test plays the far end of each connection
// through its FakePeer, and moves time by hand.
//
// Like the real loop, a fake never calls its user back from inside a call
// the user made: events happen only when the test asks a peer to act.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/send_queue.h"
#include "io/timer_wheel.h"
#include "proxy/transport/network.h"

namespace wsedge::testing {

class FakeConnection;

/// The far end of one fake connection.
class FakePeer {
 public:
  /// What the connection sent (flushed) that this peer has taken so far.
  const std::string& received() const { return received_; }
  /// received(), then forgets it.
  std::string take();
  bool closed() const { return closed_; }
  bool graceful() const { return graceful_; }
  /// The user stopped reading from this peer.
  bool paused() const { return paused_; }
  /// What the user said it would still read (limitRecv()).
  std::size_t budget() const { return budget_; }
  bool connected() const { return connection_ != nullptr; }
  const io::SocketAddress& address() const { return address_; }

  // What the peer does. Each call delivers at once to the connection's user.
  /// Sends bytes, in pieces of at most `piece` bytes (0: all at once).
  void send(std::string_view bytes, std::size_t piece = 0);
  /// Outgoing connections: the connect completes with this error (0: up).
  void accept(int error = 0);
  /// The peer's end of stream (0), or a failure (-errno).
  void end(int error = 0);
  /// Backpressure: the peer takes at most `bytes` more (SIZE_MAX: no limit).
  void setWindow(std::size_t bytes);
  /// Delivers a failure the connection was asked to report (failSoon()).
  void deliverFailure();

 private:
  friend class FakeConnection;
  friend class FakeNetwork;
  void take(io::SendQueue& out);

  FakeConnection* connection_ = nullptr;
  io::SocketAddress address_;
  std::string received_;
  std::size_t window_ = SIZE_MAX;
  std::size_t budget_ = SIZE_MAX;
  int failure_ = 0;
  bool closed_ = false;
  bool graceful_ = false;
  bool paused_ = false;
};

class FakeConnection final : public transport::Connection {
 public:
  FakeConnection(std::shared_ptr<FakePeer> peer, io::ChunkPool& pool);

  void setHandler(transport::Handler& handler) override { handler_ = &handler; }
  io::SendQueue& output() override { return out_; }
  void flush() override;
  std::size_t pending() const override { return out_.pending(); }
  std::uint64_t bytesSent() const override { return out_.totalSent(); }
  void notifyWhenDrained(std::size_t below) override {
    wantDrain_ = true;
    drainBelow_ = below;
  }
  void pauseRecv() override { peer_->paused_ = true; }
  void resumeRecv() override { peer_->paused_ = false; }
  void limitRecv(std::size_t bytes) override { peer_->budget_ = bytes; }
  void failSoon(int error) override { peer_->failure_ = error; }
  void close(bool graceful) override;
  std::optional<io::SocketAddress> peerAddress() const override { return peer_->address_; }

 private:
  friend class FakePeer;
  ~FakeConnection() override;

  std::shared_ptr<FakePeer> peer_;
  io::SendQueue out_;
  transport::Handler* handler_ = nullptr;
  bool wantDrain_ = false;
  std::size_t drainBelow_ = 0;
};

class FakeNetwork final : public transport::Network {
 public:
  FakeNetwork() : timers_(0, 10) {}

  /// An accepted connection from this (client) address, and its peer.
  std::pair<transport::ConnectionPtr, std::shared_ptr<FakePeer>> accept(
      const std::string& from = "127.0.0.1:40000");

  transport::ConnectionPtr connect(const io::SocketAddress& to, transport::Handler& handler,
                                   int* error) override;
  io::TimerWheel& timers() override { return timers_; }
  io::ChunkPool& chunks() override { return chunks_; }

  /// Every outgoing connection, in order: its peer knows the address.
  const std::vector<std::shared_ptr<FakePeer>>& dials() const { return dials_; }
  /// connect() fails at once with this error (0: it does not).
  void failConnectsWith(int error) { connectError_ = error; }
  /// Moves the clock on, firing the timers that fall due.
  void advance(std::uint64_t ms) { timers_.advance(timers_.now() + ms); }

 private:
  io::TimerWheel timers_;
  io::ChunkPool chunks_;
  std::vector<std::shared_ptr<FakePeer>> dials_;
  int connectError_ = 0;
};

/// "127.0.0.1:9001" -> a SocketAddress.
io::SocketAddress addressOf(const std::string& hostPort);

}  // namespace wsedge::testing
