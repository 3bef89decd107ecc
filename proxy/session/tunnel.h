// The open WebSocket: a relay each way (every frame parsed and checked),
// backpressure (a side whose queue is full stops the other side being read,
// and reading is capped so the queue never runs past max_buffered by more
// than a receive buffer), the close handshake (each side's close is
// forwarded and its answer awaited for close_timeout), the idle timeout (no
// frame either way), the send timeout (a side whose queue makes no
// progress), per-hop keepalive (each side pinged once it has sent nothing
// for ping_interval, and closed if it does not answer within ping_timeout),
// and the client's message rate (a token bucket: over it, the client is not
// read until tokens return, or is closed). It ends the session through
// Session::end() and nothing else.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "conf/config.h"
#include "proxy/session/granted_push.h"
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

  /// Why a drain closes the session.
  enum class Drain : std::uint8_t { kNone, kShutdown, kBackend };
  /// Closes the session at `atMs` unless a close is under way by then:
  /// 1001 both ways for a shutdown; for a drained backend, 1012 (service
  /// restart) to the client, so that it reconnects elsewhere.
  void drainAt(std::uint64_t atMs, Drain why);
  Drain draining() const { return drain_; }

  /// push: { from_backend }: the channels the backend's 101 granted
  /// (its Wsedge-Subscribe value); pushes are interleaved from now on.
  void startPush(std::string_view granted);
  /// Between two messages toward the client (a push may go now).
  bool clientAtMessageBoundary() const { return toClient_.atMessageBoundary(); }
  /// No close has gone to the client yet.
  bool clientOpen() const { return !toClient_.closeSent(); }
  /// No publish reaches the session from now on.
  void leaveChannels() {
    if (push_) push_->leave();
  }

  /// The proxy's own close frames (0: none to that side), as the session ends.
  void sendCloses(const Outcome& outcome);
  void fill(SessionRecord& record) const;

 private:
  // Progress of one side's send queue, watched while it holds bytes.
  struct Watch {
    bool active = false;
    std::uint64_t sent = 0;   // bytesSent() when last seen moving
    std::uint64_t since = 0;  // when that was
  };

  // Keepalive of one side (ping_interval).
  struct Hop {
    std::uint64_t heard = 0;   // bytes last came from it (or it took bytes it was behind on)
    std::uint64_t pingAt = 0;  // our ping to it went out, unanswered; 0: none
    std::uint64_t sent = 0;    // bytesSent() toward it at the last look
    bool behind = false;       // its queue held bytes at the last look
  };

  /// Bytes came from this side.
  void heard(Hop& hop);
  /// Relays client bytes, within the message rate.
  void relayClient(std::span<std::byte> data);
  /// A new message from the client is over the rate; `rest` follows its header.
  void overRate(std::span<const std::byte> rest);
  /// Tokens earned since the last refill (message_rate), up to the burst,
  /// and beyond it by what a resume lateMs late would otherwise lose.
  void refill(std::uint64_t now, std::uint64_t lateMs = 0);
  /// Pings the side if it is due; false when it never answered the last one.
  template <class PingRelay, class PongRelay>
  bool keepAlive(Leg& side, Hop& hop, PingRelay& toSide, PongRelay& fromSide, std::uint64_t now);
  /// Relays bytes from source to destination; the caller handles a close
  /// or an error.
  template <class Relay>
  RelayResult forward(Relay& relay, std::span<std::byte> data, Leg& source, Leg& destination,
                      Watch& watch);
  /// Keeps the source's reading within the room left in the destination's
  /// queue; a full queue stops it until the queue drains to half.
  void applyBackpressure(Leg& source, Leg& destination);
  void drained(Leg& source, Leg& destination);
  /// A close frame from this side has been forwarded.
  void closeForwarded(Side from);
  /// Starts watching a queue that holds bytes.
  void watch(Leg& destination, Watch& w);
  /// Whether the queue stalled for send_timeout (and so the session ends).
  bool stalled(Leg& destination, Watch& w, std::uint64_t now);
  void endStalled(Side side);
  /// Sets the one timer to the nearest deadline.
  void rearm();
  const conf::Limits& limits() const;

  Session& session_;
  ws::MaskKeySource& masks_;  // also for the payloads of our pings
  ClientToBackend toBackend_;
  BackendToClient toClient_;
  std::uint64_t lastFrame_ = 0;      // a frame ended, either way
  std::uint64_t closeDeadline_ = 0;  // for the answer to a close; 0: no close yet
  Watch clientQueue_;                // what goes to the client
  Watch backendQueue_;               // what goes to the backend
  bool closeFromClient_ = false;     // the client's close frame was forwarded
  bool closeFromBackend_ = false;    // the backend's close frame was forwarded
  Side closedFirst_ = Side::kNone;
  Hop clientHop_;
  Hop backendHop_;
  double tokens_ = 0;  // message_rate: messages the client may start now
  std::uint64_t refilledAt_ = 0;
  std::uint64_t rateResumeAt_ = 0;   // the client is held for its rate until then; 0: not
  std::uint64_t drainAt_ = 0;        // a drain closes the session then; 0: none
  std::uint64_t backendPingNs_ = 0;  // steady clock: our last ping to the backend left
  Drain drain_ = Drain::kNone;
  std::vector<std::byte> heldBytes_;   // what the client sent behind the held message
  std::optional<int> clientEnd_;       // the client's read ended while bytes were held
  std::unique_ptr<GrantedPush> push_;  // push: { from_backend }
};

}  // namespace wsedge::proxy
