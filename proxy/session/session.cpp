#include "proxy/session/session.h"

#include <openssl/ssl.h>

#include <cstring>

#include "io/clock.h"
#include "proxy/http/accept_key.h"
#include "proxy/http/extensions.h"
#include "proxy/http/forwarding.h"
#include "proxy/http/handshake_writer.h"
#include "proxy/http/query.h"
#include "proxy/log.h"
#include "proxy/pubsub/channels.h"

namespace wsedge::proxy {
namespace {

std::string tlsVersionName(std::uint16_t v) {
  switch (v) {
    case TLS1_3_VERSION:
      return "TLSv1.3";
    case TLS1_2_VERSION:
      return "TLSv1.2";
    default:
      return "0x" + std::to_string(v);
  }
}

}  // namespace

Session::Session(const SessionContext& context, std::shared_ptr<Generation> generation,
                 std::size_t listener, transport::ConnectionPtr client)
    : ctx_(context),
      gen_(std::move(generation)),
      timer_(this),
      startNs_(io::steadyNs()),
      listener_(static_cast<std::uint32_t>(listener)),
      client_(*this, std::move(client)),
      backend_(*this) {
  // The handshake timeout covers the TLS handshake too.
  arm(snapshot().config.limits.handshakeTimeoutMs);
}

Session::~Session() {
  listener().active->fetch_sub(1, std::memory_order_relaxed);
}

void Session::arm(std::uint64_t ms) {
  ctx_.net.timers().scheduleIn(timer_, ms);
}

void Session::armAt(std::uint64_t deadlineMs) {
  if (deadlineMs == ~std::uint64_t{0}) return timer_.cancel();
  ctx_.net.timers().schedule(timer_, deadlineMs);
}

void Session::armBy(std::uint64_t deadlineMs) {
  if (!timer_.scheduled() || timer_.deadline() > deadlineMs) armAt(deadlineMs);
}

void Session::onTimer(io::Timer&) {
  switch (phase_) {
    case Phase::kRequest:
      return client_.onTimeout();
    case Phase::kBackend:
      return backend_.onTimeout();
    case Phase::kTunnel:
      return tunnel_->onTimeout();
    case Phase::kRefused:
      return refused_->onTimeout();
    case Phase::kHttp:
      if (backend_.connecting()) return backend_.onTimeout();
      return exchange_->onTimeout();
    case Phase::kPush:
      return push_->onTimeout();
  }
}

std::uint64_t Session::elapsedMs() const {
  return (io::steadyNs() - startNs_) / 1'000'000;
}

void Session::secured() {
  listenerCounters().tlsHandshake.observe(static_cast<double>(io::steadyNs() - startNs_) / 1e9);
}

void Session::keepDetails() {
  if (!ctx_.detailedRecords || details_ || !client_.hasRequest()) return;
  const http::RequestParser& req = client_.request();
  // A refused request says what it could of itself (a 426 its path, say).
  if (req.state() == http::RequestParser::State::kIncomplete) return;
  details_ = std::make_unique<Details>();
  details_->method = req.method();
  details_->host = req.host();
  details_->target = req.target();
  // Now, while it is connected: after a reset the socket has no peer.
  if (const auto peer = client_.peerAddress()) details_->client = peer->toString();
}

void Session::fillDetails(SessionRecord& r) const {
  r.detailed = true;
  if (route_) r.route = route_->config->name;
  if (details_) {
    r.method = details_->method;
    r.host = details_->host;
    r.target = details_->target;
    r.handshakeMs = details_->handshakeMs;
    r.subprotocol = details_->subprotocol;
    r.client = details_->client;
  }
  if (r.client.empty()) {
    if (const auto peer = client_.peerAddress()) r.client = peer->toString();
  }
  if (const tls::TlsSummary* tls = client_.tls()) {
    r.sni = tls->serverName;
    if (tls->version != 0) {  // the handshake finished
      r.tlsVersion = tlsVersionName(tls->version);
      if (tls->cipher) r.tlsCipher = SSL_CIPHER_get_name(tls->cipher);
    }
  }
}

void Session::takeLatestGeneration() {
  std::shared_ptr<Generation> latest = ctx_.owner.latest();
  if (!latest || latest == gen_) return;
  // The same listener is the one with the same connection count (carried
  // over by address); its place in this session is kept.
  const ListenerSnapshot& mine = listener();
  const std::vector<ListenerSnapshot>& ls = latest->snapshot->listeners;
  for (std::size_t i = 0; i < ls.size(); ++i) {
    if (ls[i].active != mine.active) continue;
    // The TLS session was made by the first one's context: its choices
    // (the certificate SNI picked) are read there, for every request.
    if (!handshakeGen_ && mine.certificates) {
      handshakeGen_ = gen_;
      handshakeListener_ = listener_;
    }
    gen_ = std::move(latest);
    listener_ = static_cast<std::uint32_t>(i);
    return;
  }
}

void Session::routed(const RouteSnapshot& route) {
  route_ = &route;
  keepDetails();
  if (route.config->push && route.config->push->pushOnly()) return startPush(route);
  const http::RequestParser& req = client_.request();
  phase_ = req.upgrade() ? Phase::kBackend : Phase::kHttp;
  if (pool().backends.empty()) {
    return end(
        Outcome::reply(Side::kProxy, Cause::kRefused, 503, "no backend available for this route"));
  }
  const conf::PoolConfig& pc = *pool().config;
  BackendLeg::Request r;
  if (!pc.stickyCookie.empty()) {
    if (auto v = http::cookieValue(req.head(), pc.stickyCookie)) {
      r.preferred = pool().byAffinity(*v);
      if (r.preferred) stickyBackend_ = static_cast<std::uint32_t>(*r.preferred);
    }
  }
  if (pc.balance == conf::BalancePolicy::kHash) r.hashKey = client_.hashKey(pc.hashKey);
  r.head = client_.backendRequest(route);
  if (!req.upgrade()) {
    const http::BodyFraming& body = req.framing();
    if (body.kind == http::BodyFraming::Kind::kLength &&
        body.length > route.limits.maxRequestBody) {
      return end(Outcome::reply(Side::kClient, Cause::kRefused, 413,
                                "the request body is larger than max_request_body"));
    }
    r.http = true;
    // Sent again to another backend only if nothing can have changed.
    r.retryable = req.idempotent() && body.kind == http::BodyFraming::Kind::kNone;
    exchange_ = std::make_unique<HttpExchange>(
        *this, req, requests_ + 1 >= route.limits.maxRequestsPerConnection);
  }
  backend_.start(pool(), *gen_->balancers[route.pool], std::move(r));
}

void Session::startPush(const RouteSnapshot& route) {
  const http::RequestParser& req = client_.request();
  if (!req.upgrade()) {
    const http::RejectionInfo& info = http::describe(http::Rejection::kNotWebSocketUpgrade);
    return end(
        Outcome::reply(Side::kClient, Cause::kRefused, info.status, info.detail, info.extraFields));
  }
  pubsub::ChannelRequest channels = pubsub::channelsOf(
      req.path(), route.matcher.pathPrefix(), req.query(), route.config->push->maxChannels);
  if (!channels.error.empty()) {
    return end(Outcome::reply(Side::kClient, Cause::kRefused, 400, channels.error));
  }
  ++listenerCounters().handshakesOk;
  if (details_) details_->handshakeMs = elapsedMs();
  const std::string accept = http::computeAcceptKey(req.key());
  push_ = std::make_unique<PushSession>(*this, std::move(channels.channels));
  phase_ = Phase::kPush;
  std::vector<std::byte> early = client_.enterPush();
  push_->start(accept, early);
}

void Session::exchangeDone(bool persistent, bool reusable) {
  backend_.finishHttp(reusable);
  const Outcome served = Outcome::finish(Side::kProxy, Cause::kNormalClose);
  if (!persistent) return end(served);
  const SessionRecord r = record(served);
  WSEDGE_LOG(kDebug, "%s", r.describe().c_str());
  ctx_.owner.requestServed(*this, r);
  backend_.forget();
  ++requests_;
  // Its methods are still on the stack: it goes at the next one's end.
  retired_ = std::move(exchange_);
  details_.reset();
  route_ = nullptr;
  stickyBackend_ = ~std::uint32_t{0};
  phase_ = Phase::kRequest;
  client_.nextRequest();
}

void Session::nextRequestStarted() {
  startNs_ = io::steadyNs();
  arm(snapshot().config.limits.handshakeTimeoutMs);
}

bool Session::idle() const {
  return !ended_ && betweenRequests();
}

bool Session::betweenRequests() const {
  return phase_ == Phase::kRequest && requests_ > 0 && client_.nothingReceived();
}

void Session::closeIfIdle() {
  if (idle()) return end(Outcome::finish(Side::kProxy, Cause::kShutdown));
  // A subscriber has nothing to finish either: 1001, and it reconnects.
  if (!ended_ && phase_ == Phase::kPush) push_->goingAway();
}

void Session::upgraded(std::span<std::byte> rest) {
  ++listenerCounters().handshakesOk;
  if (details_) {
    details_->handshakeMs = elapsedMs();
    details_->subprotocol = backend_.response().protocol();
  }
  const bool push = route_->config->push.has_value();
  std::string head;
  http::writeClientUpgrade(head, backend_.response(), affinityCookie(),
                           push ? kSubscribeField : std::string_view());
  client_.send(head);
  tunnel_.emplace(*this,
                  frameOptions(route_->limits, http::rsvBitsFor(backend_.response().extensions())),
                  ctx_.masks);
  if (push) {
    const std::optional<std::string_view> granted =
        backend_.response().head().find(kSubscribeField);
    tunnel_->startPush(granted.value_or(std::string_view()));
  }
  phase_ = Phase::kTunnel;
  std::vector<std::byte> early = client_.enterTunnel();
  backend_.enterTunnel();
  // Frames the backend sent right behind its 101, then what the client
  // pipelined behind its request: only now may they cross.
  tunnel_->start(rest, std::move(early));
  if (ended_) return;
  // A drain began while it was being upgraded (its backend's, or the
  // worker's shutdown): it gets its close at a random point of what is left
  // of that drain's window.
  const BackendState* b = backend_.state();
  if (b && b->draining.load(std::memory_order_acquire)) {
    drainWithin(b->drainEndsMs.load(std::memory_order_relaxed), Tunnel::Drain::kBackend);
  } else if (const std::uint64_t end = ctx_.owner.shutdownEndsMs(); end != 0) {
    drainWithin(end, Tunnel::Drain::kShutdown);
  }
}

void Session::drainWithin(std::uint64_t endMs, Tunnel::Drain why) {
  const std::uint64_t t = now();
  const ws::MaskKey r = ctx_.masks.next();
  std::uint32_t random;
  std::memcpy(&random, r.data(), sizeof random);
  tunnel_->drainAt(endMs > t ? t + random % (endMs - t) : t, why);
}

std::string Session::affinityCookie() const {
  const std::string& name = pool().config->stickyCookie;
  const std::uint32_t chosen = backend_.index();
  // Set when the request had none, or one naming another backend.
  if (name.empty() || chosen == BackendLeg::kNone || chosen == stickyBackend_) return {};
  return "Set-Cookie: " + name + "=" + pool().backends[chosen].affinity +
         "; Path=/; HttpOnly; SameSite=Lax" + (listener().certificates ? "; Secure" : "") + "\r\n";
}

void Session::refused(std::span<std::byte> rest) {
  refused_ = std::make_unique<RefusedResponse>(*this);
  phase_ = Phase::kRefused;
  client_.enterRefused();
  backend_.enterRefused();
  refused_->start(backend_.response(), rest);
}

void Session::shutdown() {
  if (ended_) return;
  if (phase_ == Phase::kPush) return push_->goingAway();
  if (phase_ == Phase::kTunnel) {
    return end(Outcome::close(Side::kProxy, Cause::kShutdown, 1001, "proxy shutting down", 1001,
                              "proxy shutting down"));
  }
  end(Outcome::drop(Side::kProxy, Cause::kShutdown));
}

bool Session::drainAt(std::uint64_t atMs, Tunnel::Drain why) {
  if (ended_ || phase_ != Phase::kTunnel) return false;
  tunnel_->drainAt(atMs, why);
  return true;
}

SessionRecord Session::record(const Outcome& o) const {
  SessionRecord r;
  r.generation = snapshot().generation;
  r.listener = listener().name;
  if (route_ && route_->pool != RouteSnapshot::kNoPool) r.pool = pool().name;
  if (const BackendSnapshot* b = backend_.backend()) r.backend = b->name;
  r.endedBy = o.side;
  r.cause = o.cause;
  r.status = phase_ == Phase::kTunnel || phase_ == Phase::kPush ? 101
             : phase_ == Phase::kRefused                        ? refused_->status()
             : exchange_ && exchange_->responseStarted()        ? exchange_->status()
                                                                : o.status;
  r.http = phase_ == Phase::kHttp || (phase_ == Phase::kRequest && client_.plainRequest());
  r.requests = requests_;
  r.idle = betweenRequests();
  if (exchange_) {
    r.bytesFromClient = exchange_->bytesFromClient();
    r.bytesFromBackend = exchange_->bytesFromBackend();
  }
  r.retryAllowed = o.retryAllowed;
  r.attempts = backend_.attempts();
  if (tunnel_) tunnel_->fill(r);
  r.durationMs = elapsedMs();
  if (ctx_.detailedRecords) fillDetails(r);
  return r;
}

void Session::end(const Outcome& o) {
  if (ended_) return;
  ended_ = true;
  timer_.cancel();
  // No publish may reach it from now on.
  if (push_) push_->leave();
  if (tunnel_) tunnel_->leaveChannels();
  keepDetails();  // a request refused before routing
  if (o.ending == Ending::kFinish && tunnel_) tunnel_->sendCloses(o);
  const SessionRecord r = record(o);
  WSEDGE_LOG(kDebug, "%s", r.describe().c_str());
  switch (o.ending) {
    case Ending::kReply: {
      std::string response;
      http::writeErrorResponse(response, o.status, o.detail, o.extraFields);
      client_.send(response);
      backend_.close(false);
      client_.close(true);
      break;
    }
    case Ending::kFinish:
      // Graceful: what is queued (close frames included) is sent before the
      // sockets close. The proxy, as the server, closes the client's TCP first.
      client_.close(true);
      backend_.close(true);
      break;
    case Ending::kDrop:
      client_.close(false);
      backend_.close(false);
      break;
  }
  ctx_.owner.sessionEnded(*this, r);
}

}  // namespace wsedge::proxy
