// A push-only route's session after its request: wsedge answers the upgrade
// itself (there is no backend), subscribes the client to its channels on
// this worker's hub, and sends it what is published to them, one message a
// frame. What the client sends is parsed as any client's frames are: pings
// are answered, a close completes the handshake, and data messages are
// ignored (client_messages: close answers them with 1003). With
// ping_interval, a client silent that long is pinged, and closed (1001) if
// it does not answer within ping_timeout. A client whose
// queue would grow past pubsub.queue is closed with 1013: it cannot keep
// up, and it never holds up the others.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/pubsub/hub.h"
#include "proxy/session/subscription.h"
#include "proxy/ws/frame_parser.h"

namespace wsedge::proxy {

class Session;

class PushSession final : public pubsub::Subscriber {
 public:
  PushSession(Session& session, std::vector<std::string> channels);
  ~PushSession();
  PushSession(const PushSession&) = delete;
  PushSession& operator=(const PushSession&) = delete;

  /// Sends the 101 (with this Sec-WebSocket-Accept) and subscribes; then
  /// reads what the client sent behind its request.
  void start(std::string_view accept, std::span<std::byte> early);
  /// The proxy is stopping: close 1001, and the session ends.
  void goingAway();
  void fromClient(std::span<std::byte> data);
  void clientEnded(int error);
  void onTimeout();
  bool deliver(const pubsub::Frame& frame) override;

  /// Leaves every channel (at the latest as the session ends).
  void leave() { subscription_.leaveAll(); }

  std::uint64_t delivered() const { return delivered_; }
  std::uint16_t closeSent() const { return closeSent_; }
  std::uint16_t closeReceived() const { return closeReceived_; }

 private:
  struct Sink;
  /// The proxy's own close; the session ends when the client answers it
  /// (or close_timeout passes).
  void closeWith(std::uint16_t code, std::string_view reason);
  /// Room for this many more bytes in the client's queue; a frame is
  /// always let into an empty queue (a message may be larger than the cap).
  bool fits(std::size_t bytes) const;
  /// ping_interval: the next deadline (a ping due, or its answer).
  void keepAlive();

  Session& session_;
  std::vector<std::string> channels_;  // asked for; held from start()
  Subscription subscription_;
  ws::FrameParser<ws::Role::kServer> parser_;
  std::uint64_t queueCap_;
  std::uint64_t delivered_ = 0;
  std::uint16_t closeSent_ = 0;
  std::uint16_t closeReceived_ = 0;
  std::uint64_t heardAt_ = 0;  // bytes last came from the client
  std::uint64_t pingAt_ = 0;   // our ping went out, unanswered; 0: none
};

/// The frame of a close with this code and reason (code 0: an empty close).
std::vector<std::byte> closeFrame(std::uint16_t code, std::string_view reason);

}  // namespace wsedge::proxy
