#include "proxy/session/push_session.h"

#include "proxy/http/handshake_writer.h"
#include "proxy/log.h"
#include "proxy/session/session.h"
#include "proxy/session/tunnel.h"
#include "proxy/ws/frame_writer.h"

namespace wsedge::proxy {

struct PushSession::Sink {
  PushSession& push;
  void onFrameStart(const ws::FrameHeader& h) {
    if (h.opcode == ws::Opcode::kContinuation || !push.session_.route().config->push) return;
    if (push.session_.route().config->push->closeOnClientMessage && push.closeSent_ == 0) {
      push.closeWith(1003, "this endpoint only sends");
    }
  }
  void onPayload(std::span<std::byte>) {}
  void onFrameEnd(const ws::FrameHeader&) {}
  void onControl(ws::Opcode op, std::span<const std::byte> payload) {
    if (op != ws::Opcode::kPing || push.closeSent_ != 0) return;
    // A client that pings and never reads gets no queue of pongs.
    if (!push.fits(payload.size() + 2)) return push.closeWith(1013, "too slow: the queue is full");
    std::vector<std::byte> pong;
    ws::FrameHeader h;
    h.opcode = ws::Opcode::kPong;
    ws::appendFrame(pong, h, payload);
    push.session_.client().send(pong);
  }
  void onClose(std::uint16_t code, std::string_view) {
    push.closeReceived_ = code;
    // Its close answered with its code (none, if it gave none).
    if (push.closeSent_ == 0) push.closeWith(code == 1005 ? 0 : code, "");
  }
};

PushSession::PushSession(Session& session, std::vector<std::string> channels)
    : session_(session),
      channels_(std::move(channels)),
      subscription_(session, *this),
      parser_(frameOptions(session.route().limits, 0)),
      queueCap_(session.snapshot().config.pubsubQueue) {}

PushSession::~PushSession() = default;

void PushSession::start(std::string_view accept, std::span<std::byte> early) {
  std::string head;
  // A route that matches a subprotocol speaks it (the client offered it).
  const std::optional<std::string>& protocol = session_.route().config->match.subprotocol;
  http::writeSwitchingProtocols(head, accept, protocol ? *protocol : "", "");
  session_.client().send(head);
  for (const std::string& c : channels_) subscription_.join(c);
  channels_ = {};
  heardAt_ = session_.now();
  keepAlive();
  if (!early.empty()) fromClient(early);
}

void PushSession::keepAlive() {
  const conf::Limits& l = session_.route().limits;
  if (closeSent_ != 0) return;
  if (l.pingIntervalMs == 0) return session_.armAt(~std::uint64_t{0});  // it listens, no deadline
  session_.armAt(pingAt_ != 0 ? pingAt_ + l.pingTimeoutMs : heardAt_ + l.pingIntervalMs);
}

void PushSession::fromClient(std::span<std::byte> data) {
  heardAt_ = session_.now();
  if (pingAt_ != 0) {
    pingAt_ = 0;  // it is alive: the next ping is due ping_interval from now
    keepAlive();
  }
  Sink sink{*this};
  const ws::ParseStatus st = parser_.feed(data, sink);
  if (st == ws::ParseStatus::kError && closeSent_ == 0) {
    const ws::FrameError& e = parser_.error();
    return closeWith(static_cast<std::uint16_t>(e.code), e.reason);
  }
  if (st == ws::ParseStatus::kClosed || (st == ws::ParseStatus::kError && closeSent_ != 0)) {
    if (closeReceived_ != 0 || st == ws::ParseStatus::kError) {
      session_.end(Outcome::finish(
          Side::kClient, closeReceived_ != 0 ? Cause::kNormalClose : Cause::kProtocolError));
    }
  }
}

bool PushSession::fits(std::size_t bytes) const {
  const std::size_t pending = session_.client().connection().pending();
  return pending == 0 || pending + bytes <= queueCap_;
}

bool PushSession::deliver(const pubsub::Frame& frame) {
  if (closeSent_ != 0 || !session_.client().connected()) return false;
  if (!fits(frame.bytes.size())) {
    WSEDGE_LOG(kInfo, "push subscriber too slow: %zu bytes queued; closing it with 1013",
               session_.client().connection().pending());
    ++session_.context().pushCounters->overflowCloses;
    closeWith(1013, "too slow: the queue is full");
    return false;
  }
  transport::Connection& out = session_.client().connection();
  frame.queue(out.output());
  out.flush();
  ++delivered_;
  return true;
}

std::vector<std::byte> closeFrame(std::uint16_t code, std::string_view reason) {
  std::vector<std::byte> frame;
  ws::FrameHeader h;
  h.opcode = ws::Opcode::kClose;
  std::byte payload[ws::kMaxControlPayload];
  const std::size_t n = code == 0 ? 0 : ws::writeClosePayload(payload, code, reason);
  ws::appendFrame(frame, h, std::span(payload, n));
  return frame;
}

void PushSession::closeWith(std::uint16_t code, std::string_view reason) {
  leave();
  // Behind what is queued already: the client gets every message before it.
  session_.client().send(closeFrame(code, reason));
  closeSent_ = code == 0 ? 1005 : code;
  if (closeReceived_ != 0) {
    return session_.end(Outcome::finish(Side::kClient, Cause::kNormalClose));
  }
  session_.arm(session_.route().limits.closeTimeoutMs);
}

void PushSession::goingAway() {
  if (closeSent_ == 0) closeWith(1001, "proxy shutting down");
  session_.end(Outcome::finish(Side::kProxy, Cause::kShutdown));
}

void PushSession::clientEnded(int) {
  session_.end(
      Outcome::drop(Side::kClient, closeSent_ != 0 ? Cause::kNormalClose : Cause::kTransportError));
}

void PushSession::onTimeout() {
  if (closeSent_ != 0) return session_.end(Outcome::drop(Side::kClient, Cause::kTimeout));
  const conf::Limits& l = session_.route().limits;
  const std::uint64_t now = session_.now();
  if (pingAt_ != 0 && now >= pingAt_ + l.pingTimeoutMs) {
    WSEDGE_LOG(kInfo, "a push subscriber did not answer a ping within %llu ms: closing",
               static_cast<unsigned long long>(l.pingTimeoutMs));
    closeWith(1001, "ping timeout");
    return session_.end(Outcome::finish(Side::kClient, Cause::kUnresponsive));
  }
  if (pingAt_ == 0 && now >= heardAt_ + l.pingIntervalMs) {
    // Behind what is queued: a subscriber that reads nothing never answers.
    ws::FrameHeader h;
    h.opcode = ws::Opcode::kPing;
    std::vector<std::byte> ping;
    ws::appendFrame(ping, h, {});
    session_.client().send(ping);
    pingAt_ = now;
  }
  keepAlive();
}

}  // namespace wsedge::proxy
