#include "proxy/session/tunnel.h"

#include <algorithm>
#include <cstring>

#include "io/clock.h"
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
    : session_(session), masks_(masks), toBackend_(options, masks), toClient_(options, masks) {
  toBackend_.countInto(session.routeCounters().fromClient);
  toClient_.countInto(session.routeCounters().fromBackend);
}

const conf::Limits& Tunnel::limits() const {
  return session_.route().limits;
}

void Tunnel::startPush(std::string_view granted) {
  push_ = std::make_unique<GrantedPush>(session_);
  if (session_.route().config->push->grant == conf::PushConfig::Grant::kBackendControl) {
    toClient_.filterWith(push_.get());
  }
  push_->grant(granted);
}

void Tunnel::start(std::span<std::byte> fromBackendBytes, std::vector<std::byte> early) {
  const std::uint64_t now = session_.now();
  lastFrame_ = now;
  clientHop_.heard = backendHop_.heard = now;
  tokens_ = limits().messageBurst;
  refilledAt_ = now;
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
  limitFlow(source, destination, limits().maxBuffered);
}

void Tunnel::drained(Leg& source, Leg& destination) {
  flowDrained(source, destination, limits().maxBuffered);
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
  if (r.status == RelayResult::Status::kOk || r.status == RelayResult::Status::kHeld) {
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

void Tunnel::heard(Hop& hop) {
  hop.heard = session_.now();
  // An answer to our ping: the next one is due ping_interval from now.
  if (hop.pingAt != 0) {
    hop.pingAt = 0;
    session_.armBy(hop.heard + limits().pingIntervalMs);
  }
}

void Tunnel::fromClient(std::span<std::byte> data) {
  heard(clientHop_);
  // Behind a message held for the rate, bytes wait their turn (a receive
  // already under way when the client was paused still completes).
  if (rateResumeAt_ != 0) {
    heldBytes_.insert(heldBytes_.end(), data.begin(), data.end());
    return;
  }
  relayClient(data);
}

void Tunnel::refill(std::uint64_t now, std::uint64_t lateMs) {
  const conf::Limits& l = limits();
  const double perMs = l.messageRate / 1000;
  // Tokens the timer's lateness kept from the client are its own: without
  // them a coarse timer would hold it below its rate.
  const double cap = l.messageBurst + static_cast<double>(lateMs) * perMs;
  const double earned = tokens_ + static_cast<double>(now - refilledAt_) * perMs;
  tokens_ = std::max(tokens_, std::min(cap, earned));
  refilledAt_ = now;
}

void Tunnel::relayClient(std::span<std::byte> data) {
  const bool limited = limits().messageRate > 0;
  const std::uint64_t started = toBackend_.messagesStarted();
  if (limited) {
    refill(session_.now());
    toBackend_.limitMessages(started + static_cast<std::uint64_t>(tokens_));
  }
  const RelayResult r =
      forward(toBackend_, data, session_.client(), session_.backend(), backendQueue_);
  if (limited) tokens_ -= static_cast<double>(toBackend_.messagesStarted() - started);
  if (r.status == RelayResult::Status::kHeld) return overRate(data.subspan(r.consumed));
  if (r.status == RelayResult::Status::kClosed) return closeForwarded(Side::kClient);
  if (r.status != RelayResult::Status::kError) return;
  WSEDGE_LOG(kInfo, "client broke the protocol: %u %.*s", r.code, static_cast<int>(r.reason.size()),
             r.reason.data());
  session_.end(Outcome::close(Side::kClient, Cause::kProtocolError, r.code, r.reason, 1001,
                              "client protocol error"));
}

void Tunnel::overRate(std::span<const std::byte> rest) {
  const conf::Limits& l = limits();
  if (l.closeOverRate) {
    ++session_.routeCounters().rateCloses;
    WSEDGE_LOG(kInfo, "client over its message rate (%.0f/s): closing with 1008", l.messageRate);
    return session_.end(Outcome::close(Side::kClient, Cause::kOverRate, 1008,
                                       "message rate exceeded", 1001, "client over its rate"));
  }
  // Not read until a token is back, so that TCP pushes back on the client.
  ++session_.routeCounters().ratePauses;
  heldBytes_.assign(rest.begin(), rest.end());
  session_.client().pause(Leg::kRate);
  const double wait = (1 - tokens_) * 1000 / l.messageRate;
  rateResumeAt_ =
      session_.now() + std::max<std::uint64_t>(1, static_cast<std::uint64_t>(wait + 0.999));
  session_.armBy(rateResumeAt_);
}

void Tunnel::fromBackend(std::span<std::byte> data) {
  heard(backendHop_);
  const bool awaited = toClient_.pongAwaited();
  const RelayResult r =
      forward(toClient_, data, session_.backend(), session_.client(), clientQueue_);
  if (push_) push_->atBoundary();
  if (awaited && !toClient_.pongAwaited()) {
    // The answer to our ping: its round trip, for the backend's histogram.
    if (telemetry::BackendCounters* c = session_.backendCounters()) {
      c->pingRtt.observe(static_cast<double>(io::steadyNs() - backendPingNs_) / 1e9);
    }
  }
  if (r.status == RelayResult::Status::kClosed) return closeForwarded(Side::kBackend);
  if (r.status != RelayResult::Status::kError) return;
  WSEDGE_LOG(kWarn, "backend of pool %s broke the protocol: %u %.*s", session_.pool().name.c_str(),
             r.code, static_cast<int>(r.reason.size()), r.reason.data());
  session_.end(Outcome::close(Side::kBackend, Cause::kProtocolError, 1014, "backend protocol error",
                              r.code, r.reason));
}

void Tunnel::clientEnded(int error) {
  if (rateResumeAt_ != 0) {
    // What it sent before it went is still held for its rate: that goes
    // first, its close frame included.
    clientEnd_ = error;
    return;
  }
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

template <class PingRelay, class PongRelay>
bool Tunnel::keepAlive(Leg& side, Hop& hop, PingRelay& toSide, PongRelay& fromSide,
                       std::uint64_t now) {
  const transport::Connection& c = side.connection();
  // A side that takes bytes it was behind on is reading: it is alive, even
  // if a ping of ours waits behind them.
  if (hop.behind && c.bytesSent() != hop.sent) hop.heard = now;
  hop.sent = c.bytesSent();
  hop.behind = c.pending() > 0;
  // A side we do not read could not be heard: its silence says nothing.
  if (side.paused()) hop.heard = now;
  // Its clock starts when the ping leaves, not while it waits behind a frame.
  if (toSide.pingWaiting()) hop.pingAt = now;
  if (hop.pingAt != 0) {
    if (hop.heard >= hop.pingAt) {  // answered, or alive (see above)
      hop.pingAt = 0;
    } else {
      return now - hop.pingAt < limits().pingTimeoutMs;
    }
  }
  if (now - hop.heard < limits().pingIntervalMs) return true;
  PingPayload payload;
  const ws::MaskKey a = masks_.next(), b = masks_.next();
  std::memcpy(payload.data(), a.data(), 4);
  std::memcpy(payload.data() + 4, b.data(), 4);
  fromSide.expectPong(payload);
  transport::Connection& out = side.connection();
  toSide.sendPing(out.output(), payload);
  out.flush();
  hop.pingAt = now;
  if (&hop == &backendHop_) backendPingNs_ = io::steadyNs();
  return true;
}

void Tunnel::drainAt(std::uint64_t atMs, Drain why) {
  drain_ = why;
  drainAt_ = why == Drain::kNone ? 0 : std::max<std::uint64_t>(atMs, 1);
  rearm();
}

void Tunnel::onTimeout() {
  const std::uint64_t now = session_.now();
  if (drainAt_ != 0 && now >= drainAt_ && closeDeadline_ == 0) {
    if (drain_ == Drain::kShutdown) {
      return session_.end(Outcome::close(Side::kProxy, Cause::kDrained, 1001, "proxy shutting down",
                                         1001, "proxy shutting down"));
    }
    return session_.end(Outcome::close(Side::kProxy, Cause::kDrained, 1012, "backend draining",
                                       1001, "backend draining"));
  }
  if (stalled(session_.client(), clientQueue_, now)) return endStalled(Side::kClient);
  if (stalled(session_.backend(), backendQueue_, now)) return endStalled(Side::kBackend);
  if (rateResumeAt_ != 0 && now >= rateResumeAt_) {
    // Tokens are back: the held message goes first, then what followed it.
    refill(now, now - rateResumeAt_);
    rateResumeAt_ = 0;
    std::vector<std::byte> held = std::move(heldBytes_);
    heldBytes_ = {};
    relayClient(held);
    if (session_.ended()) return;
    if (rateResumeAt_ == 0) {
      session_.client().resume(Leg::kRate);
      if (clientEnd_) return clientEnded(*clientEnd_);
    }
  }
  if (limits().pingIntervalMs != 0 && closeDeadline_ == 0) {
    if (!keepAlive(session_.client(), clientHop_, toClient_, toBackend_, now)) {
      WSEDGE_LOG(kInfo, "the client did not answer a ping within %llu ms: closing",
                 static_cast<unsigned long long>(limits().pingTimeoutMs));
      return session_.end(Outcome::close(Side::kClient, Cause::kUnresponsive, 1001, "ping timeout",
                                         1001, "client not answering"));
    }
    if (!keepAlive(session_.backend(), backendHop_, toBackend_, toClient_, now)) {
      WSEDGE_LOG(kWarn, "a backend of pool %s did not answer a ping within %llu ms: closing",
                 session_.pool().name.c_str(),
                 static_cast<unsigned long long>(limits().pingTimeoutMs));
      return session_.end(Outcome::close(Side::kBackend, Cause::kUnresponsive, 1014,
                                         "backend not answering", 1001, "ping timeout"));
    }
  }
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
  if (limits().pingIntervalMs != 0 && closeDeadline_ == 0) {
    for (const Hop* h : {&clientHop_, &backendHop_}) {
      next = std::min(next, h->pingAt != 0 ? h->pingAt + limits().pingTimeoutMs
                                           : h->heard + limits().pingIntervalMs);
    }
  }
  if (rateResumeAt_ != 0) next = std::min(next, rateResumeAt_);
  if (drainAt_ != 0 && closeDeadline_ == 0) next = std::min(next, drainAt_);
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
