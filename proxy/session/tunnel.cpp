#include "proxy/session/tunnel.h"

#include <algorithm>

#include "proxy/log.h"
#include "proxy/session/session.h"

namespace wsedge::proxy {

ws::FrameParserOptions frameOptions(const conf::Limits& limits, std::uint8_t allowedRsv) {
  ws::FrameParserOptions o;
  o.maxFrameSize = limits.maxFrameSize;
  o.maxMessageSize = limits.maxMessageSize;
  o.maxFragments = limits.maxFragments;
  o.validateUtf8 = limits.validateUtf8;
  o.allowedRsv = allowedRsv;
  return o;
}

Tunnel::Tunnel(Session& session, const ws::FrameParserOptions& options, ws::MaskKeySource& masks)
    : session_(session), toBackend_(options, masks), toClient_(options, masks) {}

const conf::Limits& Tunnel::limits() const {
  return session_.route().limits;
}

void Tunnel::start(std::span<std::byte> fromBackendBytes, std::vector<std::byte> early) {
  lastFrame_ = session_.now();
  rearm();
  if (!fromBackendBytes.empty()) fromBackend(fromBackendBytes);
  if (!early.empty() && !session_.ended()) fromClient(early);
  if (session_.ended()) return;
  // Both sides are capped from now on, the client perhaps already by its
  // early bytes; unless relaying those filled the backend's queue, the
  // client is read again (otherwise its drain resumes it).
  applyBackpressure(session_.client(), session_.backend());
  applyBackpressure(session_.backend(), session_.client());
  session_.client().resume(Leg::kEarly);
}

void Tunnel::applyBackpressure(Leg& source, Leg& destination) {
  const std::size_t cap = limits().maxBuffered;
  const std::size_t pending = destination.connection().pending();
  source.connection().limitRecv(cap - std::min(pending, cap));
  if (!source.paused(Leg::kBackpressure) && pending >= cap) {
    source.pause(Leg::kBackpressure);
    // Resume at half, not at once: no flapping at the threshold.
    destination.connection().notifyWhenDrained(cap / 2);
  }
}

void Tunnel::drained(Leg& source, Leg& destination) {
  const std::size_t cap = limits().maxBuffered;
  source.connection().limitRecv(cap - std::min(destination.connection().pending(), cap));
  source.resume(Leg::kBackpressure);
}

void Tunnel::backendDrained() {
  drained(session_.client(), session_.backend());
}

void Tunnel::clientDrained() {
  drained(session_.backend(), session_.client());
}

template <class Relay>
RelayResult Tunnel::forward(Relay& relay, std::span<std::byte> data, Leg& source, Leg& destination,
                            Watch& queue) {
  transport::Connection& out = destination.connection();
  const std::uint64_t frames = relay.framesCompleted();
  const RelayResult r = relay.feed(data, out.output());
  out.flush();
  if (relay.framesCompleted() != frames) lastFrame_ = session_.now();
  if (r.status == RelayResult::Status::kOk) {
    applyBackpressure(source, destination);
    watch(destination, queue);
  }
  return r;
}

void Tunnel::watch(Leg& destination, Watch& w) {
  const std::uint64_t timeout = limits().sendTimeoutMs;
  if (w.active || timeout == 0 || destination.connection().pending() == 0) return;
  w = {true, destination.connection().bytesSent(), session_.now()};
  session_.armBy(w.since + timeout);
}

bool Tunnel::stalled(Leg& destination, Watch& w, std::uint64_t now) {
  if (!w.active) return false;
  const transport::Connection& c = destination.connection();
  if (c.pending() == 0) {
    w.active = false;
    return false;
  }
  if (c.bytesSent() != w.sent) {
    w.sent = c.bytesSent();
    w.since = now;
    return false;
  }
  return now - w.since >= limits().sendTimeoutMs;
}

void Tunnel::endStalled(Side side) {
  WSEDGE_LOG(kInfo, "the %s read nothing for %llu ms (send_timeout): closing with 1008",
             side == Side::kClient ? "client" : "backend",
             static_cast<unsigned long long>(limits().sendTimeoutMs));
  // The side that stopped reading gets its close queued behind what it
  // never read; the other side hears at once.
  if (side == Side::kClient) {
    return session_.end(Outcome::close(Side::kClient, Cause::kStalled, 1008, "send timeout", 1008,
                                       "client not reading"));
  }
  session_.end(Outcome::close(Side::kBackend, Cause::kStalled, 1008, "backend not reading", 1008,
                              "send timeout"));
}

void Tunnel::closeForwarded(Side from) {
  bool& mine = from == Side::kClient ? closeFromClient_ : closeFromBackend_;
  // Bytes after a close are ignored, and do not delay the close timer.
  if (mine) return;
  mine = true;
  if (closedFirst_ == Side::kNone) closedFirst_ = from;
  if (closeFromClient_ && closeFromBackend_) {
    return session_.end(Outcome::finish(closedFirst_, Cause::kNormalClose));
  }
  closeDeadline_ = session_.now() + limits().closeTimeoutMs;
  rearm();
}

void Tunnel::fromClient(std::span<std::byte> data) {
  const RelayResult r =
      forward(toBackend_, data, session_.client(), session_.backend(), backendQueue_);
  if (r.status == RelayResult::Status::kClosed) return closeForwarded(Side::kClient);
  if (r.status != RelayResult::Status::kError) return;
  WSEDGE_LOG(kInfo, "client broke the protocol: %u %.*s", r.code, static_cast<int>(r.reason.size()),
             r.reason.data());
  session_.end(Outcome::close(Side::kClient, Cause::kProtocolError, r.code, r.reason, 1001,
                              "client protocol error"));
}

void Tunnel::fromBackend(std::span<std::byte> data) {
  const RelayResult r =
      forward(toClient_, data, session_.backend(), session_.client(), clientQueue_);
  if (r.status == RelayResult::Status::kClosed) return closeForwarded(Side::kBackend);
  if (r.status != RelayResult::Status::kError) return;
  WSEDGE_LOG(kWarn, "backend of pool %s broke the protocol: %u %.*s", session_.pool().name.c_str(),
             r.code, static_cast<int>(r.reason.size()), r.reason.data());
  session_.end(Outcome::close(Side::kBackend, Cause::kProtocolError, 1014, "backend protocol error",
                              r.code, r.reason));
}

void Tunnel::clientEnded(int error) {
  WSEDGE_LOG(kDebug, "client closed its connection (%d) in the tunnel", error);
  // A client may stop sending after its close frame: the backend's answer
  // still goes back to it (the close timer runs meanwhile). Not after TLS
  // broke: nothing can reach it any more.
  if (error != transport::kTlsFailure && closeFromClient_ && !closeFromBackend_) return;
  if (error == transport::kTlsFailure) {
    WSEDGE_LOG(kDebug, "TLS failed: %s", session_.client().connection().tlsError());
  }
  // The client went away: the backend hears 1001.
  session_.end(
      Outcome::close(Side::kClient, Cause::kTransportError, 0, {}, 1001, "client went away"));
}

void Tunnel::backendEnded(int) {
  if (closeFromBackend_ && !closeFromClient_) return;  // as above: the client's answer still goes
  session_.end(
      Outcome::close(Side::kBackend, Cause::kTransportError, 1014, "backend went away", 0, {}));
}

void Tunnel::onTimeout() {
  const std::uint64_t now = session_.now();
  if (stalled(session_.client(), clientQueue_, now)) return endStalled(Side::kClient);
  if (stalled(session_.backend(), backendQueue_, now)) return endStalled(Side::kBackend);
  if (closeDeadline_ != 0) {
    // The other side never answered the close frame.
    if (now >= closeDeadline_) {
      return session_.end(
          Outcome::finish(closeFromClient_ ? Side::kBackend : Side::kClient, Cause::kTimeout));
    }
  } else if (limits().idleTimeoutMs != 0 && now - lastFrame_ >= limits().idleTimeoutMs) {
    return session_.end(
        Outcome::close(Side::kProxy, Cause::kTimeout, 1001, "idle timeout", 1001, "idle timeout"));
  }
  rearm();
}

void Tunnel::rearm() {
  std::uint64_t next = ~std::uint64_t{0};
  if (closeDeadline_ != 0) {
    next = closeDeadline_;
  } else if (limits().idleTimeoutMs != 0) {
    next = lastFrame_ + limits().idleTimeoutMs;
  }
  for (const Watch* w : {&clientQueue_, &backendQueue_}) {
    if (w->active) next = std::min(next, w->since + limits().sendTimeoutMs);
  }
  session_.armAt(next);
}

void Tunnel::sendCloses(const Outcome& o) {
  // A code of 0 means: that side already has (or needs) no close frame of ours.
  const bool ours =
      (o.toClient != 0 && !toClient_.closeSent()) || (o.toBackend != 0 && !toBackend_.closeSent());
  if (ours && closedFirst_ == Side::kNone) closedFirst_ = Side::kProxy;
  if (o.toClient != 0) {
    transport::Connection& client = session_.client().connection();
    toClient_.sendClose(client.output(), o.toClient, o.toClientReason);
    client.flush();
  }
  if (o.toBackend != 0) {
    transport::Connection& backend = session_.backend().connection();
    toBackend_.sendClose(backend.output(), o.toBackend, o.toBackendReason);
    backend.flush();
  }
}

void Tunnel::fill(SessionRecord& r) const {
  r.messagesFromClient = toBackend_.messagesForwarded();
  r.bytesFromClient = toBackend_.bytesForwarded();
  r.messagesFromBackend = toClient_.messagesForwarded();
  r.bytesFromBackend = toClient_.bytesForwarded();
  if (const std::uint16_t code = toBackend_.closeReceivedCode()) {
    r.fromClient = {code, std::string(toBackend_.closeReason())};
  }
  if (const std::uint16_t code = toBackend_.closeSentCode()) {
    r.toBackend = {code, std::string(toBackend_.closeReason())};
  }
  if (const std::uint16_t code = toClient_.closeReceivedCode()) {
    r.fromBackend = {code, std::string(toClient_.closeReason())};
  }
  if (const std::uint16_t code = toClient_.closeSentCode()) {
    r.toClient = {code, std::string(toClient_.closeReason())};
  }
  r.closedFirst = closedFirst_;
}

}  // namespace wsedge::proxy
