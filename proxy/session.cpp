#include "proxy/session.h"

#include <charconv>
#include <cstring>

#include "proxy/http/forwarding.h"
#include "proxy/http/handshake_writer.h"
#include "proxy/log.h"
#include "proxy/proxy_worker.h"

namespace wsedge::proxy {
namespace {

// Client bytes kept while the backend is still being reached; beyond this
// the client is not read until the tunnel opens.
constexpr std::size_t kEarlyBytesMax = 64 * 1024;
// A refused upgrade's body is relayed up to this size.
constexpr std::uint64_t kResponseBodyMax = 1 << 20;

std::string_view text(std::span<const std::byte> data) {
  return {reinterpret_cast<const char*>(data.data()), data.size()};
}

}  // namespace

Session::Session(ProxyWorker& worker, const ListenerRuntime& listener,
                 tls::ServerContext* tlsContext, int fd)
    : worker_(worker),
      listener_(listener),
      tlsContext_(tlsContext),
      clientPlain_(worker.loop().chunkPool()),
      timer_(this) {
  request_ = std::make_unique<http::UpgradeRequestParser>();
  if (tlsContext_) {
    bssl::UniquePtr<SSL> ssl = tlsContext_->newSsl();
    if (!ssl) throw std::runtime_error("cannot create a TLS session");
    tls_ = std::make_unique<tls::TlsStream>(std::move(ssl));
  }
  client_ = loop().adopt(fd, *this);
  liveConns_ = 1;
  // The handshake timeout covers the TLS handshake too.
  arm(limits().handshakeTimeoutMs);
}

Session::~Session() = default;

io::Loop& Session::loop() {
  return worker_.loop();
}
const conf::Limits& Session::limits() const {
  return worker_.runtime().config.limits;
}

void Session::arm(std::uint64_t ms) {
  loop().timers().scheduleIn(timer_, ms);
}

io::SendQueue& Session::clientOut() {
  return tls_ ? clientPlain_ : loop().output(client_);
}

void Session::flushClient() {
  if (!loop().alive(client_)) {
    clientPlain_.clear();
    return;
  }
  if (tls_ && !tls::sealQueue(*tls_, clientPlain_, loop().output(client_))) clientPlain_.clear();
  loop().flush(client_);
}

void Session::sendToClient(std::string_view s) {
  if (!loop().alive(client_)) return;
  io::SendQueue& out = clientOut();
  out.write(std::as_bytes(std::span(s)));
  out.commit();
  flushClient();
}

void Session::sendToBackend(std::string_view s) {
  if (!loop().alive(backend_)) return;
  io::SendQueue& out = loop().output(backend_);
  out.write(std::as_bytes(std::span(s)));
  out.commit();
  loop().flush(backend_);
}

// --- events --------------------------------------------------------------------

void Session::onData(io::ConnId id, std::span<std::byte> data) {
  if (id == client_ && tls_) {
    const tls::TlsStream::Status st =
        tls_->receive(data, tls::writerFor(loop().output(client_)),
                      {this, [](void* self, std::span<std::byte> plain) {
                         static_cast<Session*>(self)->onClientBytes(plain);
                       }});
    if (phase_ != Phase::kClosing) flushClient();
    if (st == tls::TlsStream::Status::kError) {
      // BoringSSL has written its alert (protocol_version, say): send it,
      // then close, so the client learns why.
      WSEDGE_LOG(kDebug, "TLS failed: %s", tls_->error().c_str());
      timer_.cancel();
      const bool tunnel = phase_ == Phase::kOpen && toBackend_ && loop().alive(backend_);
      phase_ = Phase::kClosing;
      loop().flush(client_);
      loop().close(client_, true);
      if (tunnel) {
        // The client is gone as surely as if it had dropped: the backend hears 1001.
        toBackend_->sendClose(loop().output(backend_), 1001, "client went away");
        loop().flush(backend_);
      }
      loop().close(backend_, tunnel);
      return;
    }
    if (st == tls::TlsStream::Status::kClosed) return onReadEnd(client_, 0);
    return;
  }
  if (id == client_) return onClientBytes(data);
  if (id == backend_) {
    switch (phase_) {
      case Phase::kUpgrading:
        return onBackendResponse(data);
      case Phase::kResponse:
        return relayResponseBody(data);
      case Phase::kOpen:
        return relayFromBackend(data);
      default:
        return;
    }
  }
}

void Session::onClientBytes(std::span<std::byte> data) {
  switch (phase_) {
    case Phase::kRequest:
      return onClientRequest(data);
    case Phase::kConnecting:
    case Phase::kUpgrading:
      return keepEarlyBytes(data);
    case Phase::kOpen:
      return relayFromClient(data);
    default:
      return;  // kResponse: what the client sends now never reaches the backend
  }
}

void Session::onReadEnd(io::ConnId id, int error) {
  if (id == client_) {
    WSEDGE_LOG(kDebug, "client closed its connection (%d) in phase %d", error,
               static_cast<int>(phase_));
    if (phase_ != Phase::kOpen) return abortAll();
    // A client may stop sending after its close frame: the backend's answer
    // still goes back to it (the close timer runs meanwhile).
    if (closeFromClient_ && !closeFromBackend_) return;
    // After a close handshake this is the normal end; otherwise the client
    // went away and the backend hears 1001.
    return closeWith(0, {}, 1001, "client went away");
  }
  if (id == backend_) {
    switch (phase_) {
      case Phase::kUpgrading:
        return replyError(502, "the backend closed the connection before answering the upgrade");
      case Phase::kResponse:
        return finish();
      case Phase::kOpen:
        if (closeFromBackend_ && !closeFromClient_)
          return;  // as above: the client's answer still goes
        return closeWith(1014, "backend went away", 0, {});
      default:
        return;
    }
  }
}

void Session::onConnected(io::ConnId id, int error) {
  if (id != backend_ || phase_ != Phase::kConnecting) return;
  if (error != 0) {
    const PoolRuntime& pool = worker_.runtime().pools[pool_];
    WSEDGE_LOG(kWarn, "connect to backend %s of pool %s failed: %s",
               pool.backends[backendIndex_].name.c_str(), pool.name.c_str(), std::strerror(-error));
    loop().close(backend_, false);
    backend_ = {};
    lastFailureTimedOut_ = false;
    return connectNext();
  }
  phase_ = Phase::kUpgrading;
  response_ = std::make_unique<http::UpgradeResponseParser>();
  sendToBackend(backendRequest_);
  arm(limits().backendTimeoutMs);
}

void Session::onDrained(io::ConnId id) {
  if (id == backend_ && clientPaused_) {
    clientPaused_ = false;
    loop().resumeRecv(client_);
  } else if (id == client_ && backendPaused_) {
    backendPaused_ = false;
    loop().resumeRecv(backend_);
  }
}

void Session::onClosed(io::ConnId id) {
  if (id == client_) client_ = {};
  if (id == backend_) backend_ = {};
  if (--liveConns_ == 0) worker_.sessionEnded(this);  // deletes this
}

void Session::onTimer(io::Timer&) {
  switch (phase_) {
    case Phase::kRequest:
      return replyError(408, "the upgrade request did not arrive in time");
    case Phase::kConnecting:
      WSEDGE_LOG(kWarn, "connect to backend %s timed out",
                 worker_.runtime().pools[pool_].backends[backendIndex_].name.c_str());
      loop().close(backend_, false);
      backend_ = {};
      lastFailureTimedOut_ = true;
      return connectNext();
    case Phase::kUpgrading:
      return replyError(504, "the backend did not answer the upgrade in time");
    case Phase::kResponse:
      return finish();
    case Phase::kOpen: {
      if (closeFromClient_ || closeFromBackend_) {
        // The other side never answered the close frame.
        return finish();
      }
      const std::uint64_t idleFor = loop().now() - lastActivity_;
      if (idleFor < limits().idleTimeoutMs) return arm(limits().idleTimeoutMs - idleFor);
      return closeWith(1001, "idle timeout", 1001, "idle timeout");
    }
    case Phase::kClosing:
      return;
  }
}

// --- handshake -----------------------------------------------------------------

void Session::onClientRequest(std::span<std::byte> data) {
  const std::size_t used = request_->feed(text(data));
  switch (request_->state()) {
    case http::UpgradeRequestParser::State::kIncomplete:
      return;
    case http::UpgradeRequestParser::State::kRejected: {
      const http::RejectionInfo& info = http::describe(request_->rejection());
      WSEDGE_LOG(kInfo, "refused upgrade request: %d %.*s", info.status,
                 static_cast<int>(info.detail.size()), info.detail.data());
      std::string response;
      http::writeRejection(response, request_->rejection());
      sendToClient(response);
      phase_ = Phase::kClosing;
      timer_.cancel();
      loop().close(client_, true);
      return;
    }
    case http::UpgradeRequestParser::State::kComplete:
      keepEarlyBytes(data.subspan(used));
      if (!hostMatchesCertificate()) {
        return replyError(421, "this connection's certificate does not serve the requested host");
      }
      return beginBackend();
  }
}

// With SNI, the certificate was chosen for a name: a request for another
// host on the same connection (connection reuse across names) is refused.
bool Session::hostMatchesCertificate() const {
  if (!tls_ || !tls::ServerContext::usedSni(tls_->ssl())) return true;
  std::string_view host = request_->host();
  if (!host.empty() && host.front() == '[') {
    host = host.substr(1, host.find(']') - 1);
  } else if (const std::size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  return tlsContext_->selected(tls_->ssl()).covers(host);
}

void Session::keepEarlyBytes(std::span<const std::byte> data) {
  early_.insert(early_.end(), data.begin(), data.end());
  if (early_.size() > kEarlyBytesMax && !earlyPaused_) {
    earlyPaused_ = true;
    loop().pauseRecv(client_);
  }
}

void Session::beginBackend() {
  const RouteRuntime* route = listener_.route(request_->path());
  if (!route) return replyError(404, "no route for this path");
  pool_ = route->pool;
  const PoolRuntime& pool = worker_.runtime().pools[pool_];
  if (pool.backends.empty()) return replyError(503, "no backend available for this route");
  const auto peer = loop().peerAddress(client_);
  const std::string ip = peer ? peer->ipString() : "unknown";
  http::writeBackendRequest(backendRequest_, *request_, {ip, tls_ ? "https" : "http"});
  maxAttempts_ = std::min<std::uint32_t>(limits().connectAttempts,
                                         static_cast<std::uint32_t>(pool.backends.size()));
  phase_ = Phase::kConnecting;
  connectNext();
}

void Session::connectNext() {
  const PoolRuntime& pool = worker_.runtime().pools[pool_];
  while (attempts_ < maxAttempts_) {
    ++attempts_;
    backendIndex_ = worker_.balancer(pool_).pick();
    const BackendRuntime& b = pool.backends[backendIndex_];
    int error = 0;
    backend_ = loop().connect(b.address, *this, &error);
    if (!backend_) {
      WSEDGE_LOG(kWarn, "cannot open a socket for backend %s: %s", b.name.c_str(),
                 std::strerror(-error));
      continue;
    }
    ++liveConns_;
    arm(limits().connectTimeoutMs);
    return;
  }
  if (lastFailureTimedOut_) return replyError(504, "no backend accepted the connection in time");
  replyError(502, "no backend accepted the connection");
}

void Session::onBackendResponse(std::span<std::byte> data) {
  const std::size_t used = response_->feed(text(data));
  if (response_->state() == http::UpgradeResponseParser::State::kIncomplete) return;
  if (response_->state() == http::UpgradeResponseParser::State::kError) {
    WSEDGE_LOG(kWarn, "malformed answer from a backend of pool %s",
               worker_.runtime().pools[pool_].name.c_str());
    return replyError(502, "malformed response from the backend");
  }
  const http::ResponseVerdict verdict =
      response_->verify({request_->key(), request_->protocols(), request_->extensions()});
  switch (verdict) {
    case http::ResponseVerdict::kAccepted:
      return openTunnel(data.subspan(used));
    case http::ResponseVerdict::kNotUpgrade:
      return relayResponse(data.subspan(used));
    default: {
      const std::string_view why = http::describe(verdict);
      WSEDGE_LOG(kWarn, "invalid upgrade answer from a backend of pool %s: %.*s",
                 worker_.runtime().pools[pool_].name.c_str(), static_cast<int>(why.size()),
                 why.data());
      return replyError(502, "invalid WebSocket handshake from the backend");
    }
  }
}

void Session::openTunnel(std::span<std::byte> rest) {
  std::string head;
  http::writeClientUpgrade(head, *response_);
  sendToClient(head);
  ws::FrameLimits frameLimits = worker_.runtime().frameLimits;
  frameLimits.allowedRsv = http::rsvBitsFor(response_->extensions());
  toBackend_.emplace(frameLimits, worker_.masks());
  toClient_.emplace(frameLimits, worker_.masks());
  request_.reset();
  response_.reset();
  backendRequest_ = std::string();
  phase_ = Phase::kOpen;
  lastActivity_ = loop().now();
  arm(limits().idleTimeoutMs);
  // Frames the backend sent right behind its 101, then what the client
  // pipelined behind its request: only now may they cross.
  if (!rest.empty()) relayFromBackend(rest);
  if (!early_.empty() && phase_ == Phase::kOpen) {
    std::vector<std::byte> early = std::move(early_);
    early_ = {};
    relayFromClient(early);
  }
  if (phase_ == Phase::kOpen && earlyPaused_) {
    earlyPaused_ = false;
    // Unless relaying the early bytes filled the backend's queue: then the
    // drain resumes the client.
    if (!clientPaused_) loop().resumeRecv(client_);
  }
}

void Session::relayResponse(std::span<std::byte> rest) {
  WSEDGE_LOG(kInfo, "backend refused the upgrade with %d; relaying it", response_->status());
  std::string head;
  http::writeRelayedResponseHead(head, *response_);
  sendToClient(head);
  if (auto cl = response_->head().find("Content-Length")) {
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(cl->data(), cl->data() + cl->size(), n);
    if (ec == std::errc{} && end == cl->data() + cl->size()) {
      bodyLength_ = true;
      bodyLeft_ = n;
    }
  }
  // Whatever the client sent after its request is dropped: it must never
  // reach a backend that did not switch protocols.
  early_.clear();
  early_.shrink_to_fit();
  loop().pauseRecv(client_);
  phase_ = Phase::kResponse;
  arm(limits().backendTimeoutMs);
  if (bodyLength_ && bodyLeft_ == 0) return finish();
  relayResponseBody(rest);
}

void Session::relayResponseBody(std::span<std::byte> data) {
  std::size_t take = data.size();
  if (bodyLength_) take = static_cast<std::size_t>(std::min<std::uint64_t>(take, bodyLeft_));
  if (take > 0 && loop().alive(client_)) {
    io::SendQueue& out = clientOut();
    out.write(data.first(take));
    out.commit();
    flushClient();
  }
  bodyRelayed_ += take;
  if (bodyLength_) bodyLeft_ -= take;
  if ((bodyLength_ && bodyLeft_ == 0) || bodyRelayed_ >= kResponseBodyMax) finish();
}

// --- tunnel ----------------------------------------------------------------------

void Session::applyBackpressure(io::ConnId source, io::ConnId destination, bool& paused) {
  // The destination is not keeping up: stop reading the source until it drains.
  if (!paused && loop().alive(destination) &&
      loop().output(destination).pending() >= limits().maxBuffered) {
    paused = true;
    loop().pauseRecv(source);
    loop().notifyWhenDrained(destination);
  }
}

void Session::relayFromClient(std::span<std::byte> data) {
  if (!loop().alive(backend_)) return;
  lastActivity_ = loop().now();
  const RelayResult r = toBackend_->feed(data, loop().output(backend_));
  loop().flush(backend_);
  switch (r.status) {
    case RelayResult::Status::kOk:
      return applyBackpressure(client_, backend_, clientPaused_);
    case RelayResult::Status::kClosed:
      if (closeFromClient_)
        return;  // bytes after a close: ignored, and they do not delay the close timer
      closeFromClient_ = true;
      if (closeFromBackend_) return finish();
      return arm(limits().closeTimeoutMs);
    case RelayResult::Status::kError:
      WSEDGE_LOG(kInfo, "client broke the protocol: %u %.*s", r.code,
                 static_cast<int>(r.reason.size()), r.reason.data());
      return closeWith(r.code, r.reason, 1001, "client protocol error");
  }
}

void Session::relayFromBackend(std::span<std::byte> data) {
  if (!loop().alive(client_)) return;
  lastActivity_ = loop().now();
  const RelayResult r = toClient_->feed(data, clientOut());
  flushClient();
  switch (r.status) {
    case RelayResult::Status::kOk:
      return applyBackpressure(backend_, client_, backendPaused_);
    case RelayResult::Status::kClosed:
      if (closeFromBackend_)
        return;  // bytes after a close: ignored, and they do not delay the close timer
      closeFromBackend_ = true;
      if (closeFromClient_) return finish();
      return arm(limits().closeTimeoutMs);
    case RelayResult::Status::kError:
      WSEDGE_LOG(kWarn, "backend of pool %s broke the protocol: %u %.*s",
                 worker_.runtime().pools[pool_].name.c_str(), r.code,
                 static_cast<int>(r.reason.size()), r.reason.data());
      return closeWith(1014, "backend protocol error", r.code, r.reason);
  }
}

// --- endings ---------------------------------------------------------------------

void Session::replyError(int status, std::string_view detail) {
  std::string response;
  http::writeErrorResponse(response, status, detail);
  sendToClient(response);
  timer_.cancel();
  phase_ = Phase::kClosing;
  if (backend_) loop().close(backend_, false);
  loop().close(client_, true);
}

void Session::closeWith(std::uint16_t toClient, std::string_view clientReason,
                        std::uint16_t toBackend, std::string_view backendReason) {
  // A code of 0 means: that side already has (or needs) no close frame of ours.
  if (toClient != 0 && toClient_ && loop().alive(client_)) {
    toClient_->sendClose(clientOut(), toClient, clientReason);
    flushClient();
  }
  if (toBackend != 0 && toBackend_ && loop().alive(backend_)) {
    toBackend_->sendClose(loop().output(backend_), toBackend, backendReason);
    loop().flush(backend_);
  }
  finish();
}

void Session::finish() {
  timer_.cancel();
  phase_ = Phase::kClosing;
  if (tls_ && loop().alive(client_)) {
    flushClient();
    tls_->closeNotify(tls::writerFor(loop().output(client_)));
    loop().flush(client_);
  }
  // Graceful: what is queued (close frames included) is sent before the
  // sockets close. The proxy, as the server, closes the client's TCP first.
  loop().close(client_, true);
  loop().close(backend_, true);
}

void Session::abortAll() {
  timer_.cancel();
  phase_ = Phase::kClosing;
  loop().close(client_, false);
  loop().close(backend_, false);
}

void Session::shutdown() {
  if (phase_ == Phase::kClosing) return;
  if (phase_ == Phase::kOpen)
    return closeWith(1001, "proxy shutting down", 1001, "proxy shutting down");
  abortAll();
}

}  // namespace wsedge::proxy
