#include "proxy/session/tunnel.h"

#include "proxy/log.h"
#include "proxy/session/session.h"

namespace wsedge::proxy {

ws::FrameParserOptions frameOptions(const conf::Limits& limits, std::uint8_t allowedRsv) {
  ws::FrameParserOptions o;
  o.maxFrameSize = limits.maxFrameSize;
  o.maxMessageSize = limits.maxMessageSize;
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
  lastActivity_ = session_.now();
  session_.arm(limits().idleTimeoutMs);
  if (!fromBackendBytes.empty()) fromBackend(fromBackendBytes);
  if (!early.empty() && !session_.ended()) fromClient(early);
  // Unless relaying the early bytes filled the backend's queue: then the
  // drain resumes the client.
  if (!session_.ended()) session_.client().resume(Leg::kEarly);
}

void Tunnel::applyBackpressure(Leg& source, Leg& destination) {
  if (!source.paused(Leg::kBackpressure) &&
      destination.connection().pending() >= limits().maxBuffered) {
    source.pause(Leg::kBackpressure);
    destination.connection().notifyWhenDrained();
  }
}

template <class Relay>
RelayResult Tunnel::forward(Relay& relay, std::span<std::byte> data, Leg& source,
                            Leg& destination) {
  lastActivity_ = session_.now();
  transport::Connection& out = destination.connection();
  const RelayResult r = relay.feed(data, out.output());
  out.flush();
  if (r.status == RelayResult::Status::kOk) applyBackpressure(source, destination);
  return r;
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
  session_.arm(limits().closeTimeoutMs);
}

void Tunnel::fromClient(std::span<std::byte> data) {
  const RelayResult r = forward(toBackend_, data, session_.client(), session_.backend());
  if (r.status == RelayResult::Status::kClosed) return closeForwarded(Side::kClient);
  if (r.status != RelayResult::Status::kError) return;
  WSEDGE_LOG(kInfo, "client broke the protocol: %u %.*s", r.code, static_cast<int>(r.reason.size()),
             r.reason.data());
  session_.end(Outcome::close(Side::kClient, Cause::kProtocolError, r.code, r.reason, 1001,
                              "client protocol error"));
}

void Tunnel::fromBackend(std::span<std::byte> data) {
  const RelayResult r = forward(toClient_, data, session_.backend(), session_.client());
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

void Tunnel::backendDrained() {
  session_.client().resume(Leg::kBackpressure);
}

void Tunnel::clientDrained() {
  session_.backend().resume(Leg::kBackpressure);
}

void Tunnel::onTimeout() {
  if (closeFromClient_ || closeFromBackend_) {
    // The other side never answered the close frame.
    return session_.end(
        Outcome::finish(closeFromClient_ ? Side::kBackend : Side::kClient, Cause::kTimeout));
  }
  const std::uint64_t idleFor = session_.now() - lastActivity_;
  if (idleFor < limits().idleTimeoutMs) return session_.arm(limits().idleTimeoutMs - idleFor);
  session_.end(
      Outcome::close(Side::kProxy, Cause::kTimeout, 1001, "idle timeout", 1001, "idle timeout"));
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
