#include "proxy/session/client_leg.h"

#include "proxy/http/forwarding.h"
#include "proxy/http/query.h"
#include "proxy/log.h"
#include "proxy/pool/stable_hash.h"
#include "proxy/session/session.h"
#include "proxy/session/tunnel.h"

namespace wsedge::proxy {
namespace {

// Client bytes kept while the backend is still being reached; beyond this
// the client is not read until the tunnel opens.
constexpr std::size_t kEarlyBytesMax = 64 * 1024;

std::string_view text(std::span<const std::byte> data) {
  return {reinterpret_cast<const char*>(data.data()), data.size()};
}

}  // namespace

ClientLeg::ClientLeg(Session& session, transport::ConnectionPtr connection)
    : session_(session), handshake_(std::make_unique<Handshake>()) {
  attach(std::move(connection), *this);
}

namespace {

bool trusted(const io::SocketAddress& peer, const std::vector<conf::Cidr>& ranges) {
  const sockaddr* sa = peer.get();
  const bool v6 = sa->sa_family == AF_INET6;
  const auto* bytes = v6 ? reinterpret_cast<const std::uint8_t*>(
                               &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr)
                         : reinterpret_cast<const std::uint8_t*>(
                               &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr);
  for (const conf::Cidr& r : ranges) {
    if (r.contains(bytes, v6)) return true;
  }
  return false;
}

}  // namespace

std::string ClientLeg::peerIp() const {
  const auto peer = connected() ? connection().peerAddress() : std::nullopt;
  return peer ? peer->ipString() : "unknown";
}

std::string ClientLeg::backendRequest(const RouteSnapshot& route) const {
  const auto peer = connected() ? connection().peerAddress() : std::nullopt;
  const std::string ip = peer ? peer->ipString() : "unknown";
  const bool trust = peer && trusted(*peer, session_.snapshot().config.trustedProxies);
  const http::RequestParser& req = handshake_->request;
  const conf::RouteConfig& rc = *route.config;
  const std::string path =
      rc.rewritePrefix ? rewritePath(req.path(), route.matcher.pathPrefix(), *rc.rewritePrefix)
                       : std::string();
  // from_backend: control reads the backend's messages, so none may be
  // compressed: compression is not offered to the backend.
  std::vector<std::string> removed = rc.removeHeaders;
  if (rc.push && rc.push->grant == conf::PushConfig::Grant::kBackendControl) {
    removed.emplace_back("Sec-WebSocket-Extensions");
  }
  std::string out;
  http::writeBackendRequest(
      out, req, {ip, connection().tls() ? "https" : "http", trust, path, rc.addHeaders, removed});
  return out;
}

std::optional<std::uint64_t> ClientLeg::hashKey(const conf::HashKey& key) const {
  const http::RequestParser& req = handshake_->request;
  switch (key.source) {
    case conf::HashKey::Source::kSourceIp:
      return stableHash(peerIp());
    case conf::HashKey::Source::kHeader:
      if (auto v = req.head().find(key.name)) return stableHash(*v);
      return std::nullopt;
    case conf::HashKey::Source::kCookie:
      if (auto v = http::cookieValue(req.head(), key.name)) return stableHash(*v);
      return std::nullopt;
    case conf::HashKey::Source::kQuery:
      if (auto v = http::queryParameter(req.query(), key.name)) return stableHash(*v);
      return std::nullopt;
  }
  return std::nullopt;
}

void ClientLeg::onSecured() {
  session_.secured();
}

std::vector<std::byte> ClientLeg::enterTunnel() {
  phase_ = Phase::kTunnel;
  std::vector<std::byte> early = std::move(handshake_->early);
  handshake_.reset();
  return early;
}

std::vector<std::byte> ClientLeg::enterPush() {
  std::vector<std::byte> early = enterTunnel();
  phase_ = Phase::kPush;
  resume(kEarly);
  connection().limitRecv(transport::kNoLimit);
  return early;
}

void ClientLeg::enterRefused() {
  phase_ = Phase::kIgnoring;
  // Whatever the client sent after its request is dropped: it must never
  // reach a backend that did not switch protocols.
  handshake_.reset();
  pause(kRefused);
}

bool ClientLeg::plainRequest() const {
  // Refused ones too: a request refused before it asked for an upgrade is
  // not a failed handshake.
  return handshake_ && handshake_->request.state() != http::RequestParser::State::kIncomplete &&
         !handshake_->request.upgrade();
}

bool ClientLeg::nothingReceived() const {
  return phase_ == Phase::kRequest && handshake_ && handshake_->request.head().headBytes() == 0;
}

void ClientLeg::startBody() {
  phase_ = Phase::kBody;
  std::vector<std::byte> early = std::move(handshake_->early);
  handshake_->early.clear();
  resume(kEarly);
  connection().limitRecv(transport::kNoLimit);
  if (!early.empty()) session_.exchange().fromClient(early);
}

void ClientLeg::bodyDone(std::span<const std::byte> rest) {
  phase_ = Phase::kWaiting;
  // A pause for the body's sake ends with it; what follows is capped as
  // early bytes are.
  resume(kBackpressure);
  keepEarlyBytes(rest);
}

void ClientLeg::nextRequest() {
  std::vector<std::byte> pipelined = std::move(handshake_->early);
  handshake_ = std::make_unique<Handshake>();
  phase_ = Phase::kRequest;
  resume(kEarly);
  resume(kBackpressure);
  connection().limitRecv(transport::kNoLimit);
  if (pipelined.empty()) {
    return session_.arm(session_.snapshot().config.limits.keepaliveTimeoutMs);
  }
  onRequestBytes(pipelined);
}

void ClientLeg::onTimeout() {
  // Between requests, a quiet client is simply let go.
  if (session_.requestsServed() > 0 && nothingReceived()) {
    return session_.end(Outcome::finish(Side::kClient, Cause::kTimeout));
  }
  session_.end(
      Outcome::reply(Side::kClient, Cause::kTimeout, 408, "the request did not arrive in time"));
}

void ClientLeg::onData(std::span<std::byte> data) {
  switch (phase_) {
    case Phase::kRequest:
      return onRequestBytes(data);
    case Phase::kWaiting:
      return keepEarlyBytes(data);
    case Phase::kBody:
      return session_.exchange().fromClient(data);
    case Phase::kTunnel:
      return session_.tunnel().fromClient(data);
    case Phase::kPush:
      return session_.push().fromClient(data);
    case Phase::kIgnoring:
      return;
  }
}

void ClientLeg::onReadEnd(int error) {
  if (phase_ == Phase::kTunnel) return session_.tunnel().clientEnded(error);
  if (phase_ == Phase::kPush) return session_.push().clientEnded(error);
  if (error == 0 && session_.requestsServed() > 0 && nothingReceived()) {
    return session_.end(Outcome::drop(Side::kClient, Cause::kNormalClose));
  }
  if (error == transport::kTlsFailure) {
    WSEDGE_LOG(kDebug, "TLS failed: %s", connection().tlsError());
  } else {
    WSEDGE_LOG(kDebug, "client closed its connection (%d) before the tunnel opened", error);
  }
  session_.end(Outcome::drop(Side::kClient, Cause::kTransportError));
}

void ClientLeg::onDrained() {
  if (phase_ == Phase::kTunnel) return session_.tunnel().clientDrained();
  if (session_.exchanging()) session_.exchange().clientDrained();
}

void ClientLeg::onRequestBytes(std::span<std::byte> data) {
  if (session_.requestsServed() > 0 && nothingReceived() && !data.empty()) {
    session_.nextRequestStarted();
  }
  const std::size_t used = handshake_->request.feed(text(data));
  switch (handshake_->request.state()) {
    case http::RequestParser::State::kIncomplete:
      return;
    case http::RequestParser::State::kRejected: {
      const http::RequestParser& req = handshake_->request;
      const http::RejectionInfo& info = http::describe(req.rejection());
      // A refused body framing says exactly what was wrong with it.
      const std::string_view detail =
          req.framingReason().empty() ? info.detail : req.framingReason();
      WSEDGE_LOG(kInfo, "refused request: %d %.*s", info.status, static_cast<int>(detail.size()),
                 detail.data());
      return session_.end(Outcome::reply(Side::kClient, Cause::kProtocolError, info.status, detail,
                                         info.extraFields));
    }
    case http::RequestParser::State::kComplete:
      break;
  }
  phase_ = Phase::kWaiting;
  keepEarlyBytes(data.subspan(used));
  if (!hostMatchesCertificate()) {
    return session_.end(
        Outcome::reply(Side::kClient, Cause::kRefused, 421,
                       "this connection's certificate does not serve the requested host"));
  }
  // Routed with the configuration in force now, not at accept.
  session_.takeLatestGeneration();
  const http::RequestParser& req = handshake_->request;
  const std::string host = hostName(req.host());
  const RequestView view{req.path(),  req.query(),     host,
                         &req.head(), req.protocols(), req.upgrade()};
  const RouteSnapshot* route = session_.listener().route(view);
  if (!route) {
    return session_.end(
        Outcome::reply(Side::kProxy, Cause::kRefused, 404, "no route for this request"));
  }
  // Cross-site WebSocket hijacking: refused before any backend hears of it.
  const std::optional<std::string_view> origin = req.head().find("Origin");
  if (!route->origins.allows(origin)) {
    const std::string_view shown = origin.value_or("(none)");
    WSEDGE_LOG(kInfo, "refused a request from origin %.*s", static_cast<int>(shown.size()),
               shown.data());
    return session_.end(Outcome::reply(Side::kClient, Cause::kRefused, 403,
                                       req.upgrade() ? "this origin may not open a WebSocket here"
                                                     : "this origin may not send requests here"));
  }
  session_.routed(*route);
}

// With SNI, the certificate was chosen for a name: a request for another
// host on the same connection (connection reuse across names) is refused.
bool ClientLeg::hostMatchesCertificate() {
  const tls::TlsSummary* tls = this->tls();
  if (!tls || tls->certificateChoice == 0) return true;
  std::string_view host = handshake_->request.host();
  if (!host.empty() && host.front() == '[') {
    host = host.substr(1, host.find(']') - 1);
  } else if (const std::size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  return session_.tlsContext()->selected(tls->certificateChoice).covers(host);
}

void ClientLeg::keepEarlyBytes(std::span<const std::byte> data) {
  std::vector<std::byte>& early = handshake_->early;
  early.insert(early.end(), data.begin(), data.end());
  // Read no more than the cap (to within a receive buffer), and stop there.
  connection().limitRecv(kEarlyBytesMax - std::min(early.size(), kEarlyBytesMax));
  if (early.size() >= kEarlyBytesMax) pause(kEarly);
}

}  // namespace wsedge::proxy
