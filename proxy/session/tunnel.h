// The open WebSocket: a relay each way (every frame parsed and checked),
// backpressure (a side whose queue is full stops the other side being read),
// the close handshake (each side's close is forwarded and its answer awaited
// for close_timeout), and the idle timeout. It ends the session through
// Session::end() and nothing else.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "conf/config.h"
#include "proxy/session/outcome.h"
#include "proxy/session/relay.h"

namespace wsedge::proxy {

class Session;
class Leg;

/// The parser options a route's limits give, with the RSV bits the
/// negotiated extensions define.
ws::FrameParserOptions frameOptions(const conf::Limits& limits, std::uint8_t allowedRsv);

class Tunnel {
 public:
  Tunnel(Session& session, const ws::FrameParserOptions& options, ws::MaskKeySource& masks);

  /// Relays what the backend sent right behind its 101, then what the
  /// client pipelined behind its request.
  void start(std::span<std::byte> fromBackend, std::vector<std::byte> early);

  void fromClient(std::span<std::byte> data);
  void fromBackend(std::span<std::byte> data);
  void clientEnded(int error);
  void backendEnded(int error);
  void clientDrained();
  void backendDrained();
  void onTimeout();

  /// The proxy's own close frames (0: none to that side), as the session ends.
  void sendCloses(const Outcome& outcome);
  void fill(SessionRecord& record) const;

 private:
  /// Relays bytes from source to destination; the caller handles a close
  /// or an error.
  template <class Relay>
  RelayResult forward(Relay& relay, std::span<std::byte> data, Leg& source, Leg& destination);
  /// The destination is not keeping up: stop reading the source until it drains.
  void applyBackpressure(Leg& source, Leg& destination);
  /// A close frame from this side has been forwarded.
  void closeForwarded(Side from);
  const conf::Limits& limits() const;

  Session& session_;
  ClientToBackend toBackend_;
  BackendToClient toClient_;
  std::uint64_t lastActivity_ = 0;
  bool closeFromClient_ = false;   // the client's close frame was forwarded
  bool closeFromBackend_ = false;  // the backend's close frame was forwarded
  Side closedFirst_ = Side::kNone;
};

}  // namespace wsedge::proxy
