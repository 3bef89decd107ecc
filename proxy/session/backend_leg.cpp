#include "proxy/session/backend_leg.h"

#include <cstring>

#include "io/loop.h"
#include "proxy/log.h"
#include "proxy/pool/outlier.h"
#include "proxy/session/refused_response.h"
#include "proxy/session/session.h"
#include "proxy/session/tunnel.h"
#include "proxy/session/upstream_pool.h"

namespace wsedge::proxy {
namespace {

// A request that may not be replayed takes only a connection idle this
// long at most.
constexpr std::uint64_t kFreshIdleMs = 1000;

std::string_view text(std::span<const std::byte> data) {
  return {reinterpret_cast<const char*>(data.data()), data.size()};
}

}  // namespace

BackendLeg::~BackendLeg() {
  release();
}

void BackendLeg::start(const PoolSnapshot& pool, Balancer& balancer, Request request) {
  pool_ = &pool;
  current_ = kNone;
  attempts_ = 0;
  trying_ = std::make_unique<Trying>();
  trying_->balancer = &balancer;
  trying_->request = std::move(request);
  trying_->maxAttempts = std::min<std::uint32_t>(pool.config->retries + 1,
                                                 static_cast<std::uint32_t>(pool.backends.size()));
  connectNext();
}

bool BackendLeg::canRetry() const {
  const Trying& t = *trying_;
  if (t.tried.size() >= t.maxAttempts) return false;
  // Only if another backend could take it: otherwise the answer in hand
  // (a 5xx, say) says more than a 502 of our own would.
  PickContext ctx;
  ctx.tried = t.tried;
  ctx.nowMs = session_.now();
  for (std::size_t i = 0; i < pool_->state.size(); ++i) {
    if (!ctx.excluded(i, pool_->state)) return true;
  }
  return false;
}

void BackendLeg::failed() {
  const std::optional<conf::OutlierConfig>& outlier = pool_->config->outlier;
  if (!outlier || current_ == kNone) return;
  if (noteFailure(pool_->state.backend(current_), *outlier, session_.now())) {
    WSEDGE_LOG(kWarn, "backend %s of pool %s ejected after %u failures in a row",
               backend()->name.c_str(), pool_->name.c_str(), outlier->consecutiveFailures);
  }
}

void BackendLeg::succeeded() {
  const std::optional<conf::OutlierConfig>& outlier = pool_->config->outlier;
  if (outlier && current_ != kNone) {
    noteSuccess(pool_->state.backend(current_), *outlier, session_.now());
  }
}

const BackendSnapshot* BackendLeg::backend() const {
  return current_ == kNone ? nullptr : &pool_->backends[current_];
}

void BackendLeg::hold(std::size_t backend) {
  release();
  current_ = static_cast<std::uint32_t>(backend);
  held_ = true;
  pool_->state.backend(backend).liveSessions.fetch_add(1, std::memory_order_relaxed);
}

void BackendLeg::release() {
  if (!held_) return;
  pool_->state.backend(current_).liveSessions.fetch_sub(1, std::memory_order_relaxed);
  held_ = false;
}

void BackendLeg::close(bool graceful) {
  release();
  closeConnection(graceful);
}

void BackendLeg::enterTunnel() {
  phase_ = Phase::kTunnel;
  trying_.reset();
  response_.reset();
}

void BackendLeg::connectNext() {
  release();  // a failed attempt no longer counts
  Trying& t = *trying_;
  while (t.tried.size() < t.maxAttempts) {
    PickContext ctx;
    ctx.hashKey = t.request.hashKey;
    ctx.tried = t.tried;
    ctx.nowMs = session_.now();
    // A sticky cookie's backend first, while it may take a session;
    // otherwise (and for any retry) the balancer's choice.
    std::optional<std::size_t> pick;
    const std::optional<std::size_t>& preferred = t.request.preferred;
    if (preferred && t.tried.empty() && *preferred < pool_->state.size() &&
        !ctx.excluded(*preferred, pool_->state)) {
      pick = preferred;
    } else {
      pick = t.balancer->pick(ctx, pool_->state);
    }
    if (!pick && t.tried.empty()) {
      // Unhealthy, ejected, draining or full, every one of them.
      return session_.end(
          Outcome::reply(Side::kProxy, Cause::kRefused, 503, "no healthy backend for this route"));
    }
    if (!pick) break;
    // Counted on the backend that failed, as this one is tried in its place.
    if (!t.tried.empty()) ++session_.backendCounters()->retries;
    t.tried.push_back(static_cast<std::uint32_t>(*pick));
    current_ = static_cast<std::uint32_t>(*pick);
    ++attempts_;
    const BackendSnapshot& b = pool_->backends[*pick];
    UpstreamPool* idle = session_.context().upstreams;
    if (t.request.http && idle && !t.fresh) {
      // One that may not be sent again goes only where the backend cannot
      // be closing the connection as it arrives: one idle a moment at most
      // (backends close idle ones after a few seconds: Node after 5).
      const std::uint64_t maxAge = t.request.retryable ? ~std::uint64_t{0} : kFreshIdleMs;
      if (transport::ConnectionPtr c = idle->take(b.address.toString(), maxAge)) {
        attach(std::move(c), *this);
        hold(*pick);
        reused_ = true;
        return sendRequest();
      }
    }
    t.fresh = false;
    reused_ = false;
    int error = 0;
    transport::ConnectionPtr c = session_.context().net.connect(b.address, *this, &error);
    if (!c) {
      if (error == io::Loop::kTableFull) {
        WSEDGE_LOG(kWarn, "connection table full: no connection to backend %s", b.name.c_str());
        return session_.end(Outcome::reply(Side::kProxy, Cause::kRefused, 503,
                                           "the proxy has no room for another connection"));
      }
      WSEDGE_LOG(kWarn, "cannot open a socket for backend %s: %s", b.name.c_str(),
                 std::strerror(-error));
      continue;
    }
    attach(std::move(c), *this);
    hold(*pick);
    phase_ = Phase::kConnecting;
    session_.arm(session_.route().limits.connectTimeoutMs);
    return;
  }
  Outcome o = t.lastTimedOut ? Outcome::reply(Side::kBackend, Cause::kTimeout, 504,
                                              "no backend accepted the connection in time")
                             : Outcome::reply(Side::kBackend, Cause::kTransportError, 502,
                                              "no backend accepted the connection");
  o.retryAllowed = true;
  session_.end(o);
}

void BackendLeg::dropAttempt(bool timedOut) {
  release();
  closeConnection(false);
  trying_->lastTimedOut = timedOut;
  phase_ = Phase::kIdle;
}

void BackendLeg::onConnected(int error) {
  if (phase_ != Phase::kConnecting) return;
  if (error != 0) {
    WSEDGE_LOG(kWarn, "connect to backend %s of pool %s failed: %s", backend()->name.c_str(),
               pool_->name.c_str(), std::strerror(-error));
    ++session_.backendCounters()->connectFailures;
    failed();
    dropAttempt(false);
    return connectNext();
  }
  sendRequest();
}

void BackendLeg::sendRequest() {
  phase_ = Phase::kAnswering;
  response_ = std::make_unique<http::UpgradeResponseParser>();
  send(trying_->request.head);
  if (!trying_->request.http) return session_.arm(session_.route().limits.backendTimeoutMs);
  session_.arm(session_.route().limits.responseTimeoutMs);
  session_.exchange().backendReady();
}

void BackendLeg::finishHttp(bool reusable) {
  release();
  UpstreamPool* idle = session_.context().upstreams;
  const conf::Limits& limits = session_.route().limits;
  // Reused only with nothing of this request left to send.
  if (reusable && idle && connected() && connection().pending() == 0 &&
      limits.upstreamMaxIdle > 0) {
    idle->put(backend()->address.toString(), detach(), limits.upstreamMaxIdle,
              limits.upstreamIdleTimeoutMs);
  } else {
    closeConnection(false);
  }
  phase_ = Phase::kIdle;
  trying_.reset();
  response_.reset();
  reused_ = false;
}

void BackendLeg::forget() {
  release();
  current_ = kNone;
  attempts_ = 0;
  pool_ = nullptr;
}

void BackendLeg::onTimeout() {
  if (phase_ == Phase::kConnecting) {
    WSEDGE_LOG(kWarn, "connect to backend %s timed out", backend()->name.c_str());
    ++session_.backendCounters()->connectFailures;
    failed();
    dropAttempt(true);
    return connectNext();
  }
  if (phase_ == Phase::kAnswering) {
    failed();
    session_.end(Outcome::reply(Side::kBackend, Cause::kTimeout, 504,
                                "the backend did not answer the upgrade in time"));
  }
}

void BackendLeg::onData(std::span<std::byte> data) {
  switch (phase_) {
    case Phase::kAnswering:
      return onAnswer(data);
    case Phase::kRefused:
      return session_.refusedResponse().body(data);
    case Phase::kTunnel:
      return session_.tunnel().fromBackend(data);
    case Phase::kResponse:
      return session_.exchange().fromBackend(data);
    default:
      return;
  }
}

void BackendLeg::onAnswer(std::span<std::byte> data) {
  const std::size_t used = response_->feed(text(data));
  if (response_->state() == http::UpgradeResponseParser::State::kIncomplete) return;
  if (response_->state() == http::UpgradeResponseParser::State::kError) {
    WSEDGE_LOG(kWarn, "malformed answer from backend %s of pool %s", backend()->name.c_str(),
               pool_->name.c_str());
    return retryOr(Outcome::reply(Side::kBackend, Cause::kProtocolError, 502,
                                  "malformed response from the backend"));
  }
  if (trying_->request.http) return onHttpAnswer(data.subspan(used));
  const http::RequestParser& request = session_.client().request();
  const http::ResponseVerdict verdict =
      response_->verify({request.key(), request.protocols(), request.extensions()});
  switch (verdict) {
    case http::ResponseVerdict::kAccepted:
      succeeded();
      return session_.upgraded(data.subspan(used));
    case http::ResponseVerdict::kNotUpgrade:
      // A 5xx may be this backend's trouble: another may serve. Anything
      // else (a 403, say) is the answer, and is relayed.
      if (response_->status() >= 500) {
        WSEDGE_LOG(kWarn, "backend %s of pool %s answered the upgrade with %d",
                   backend()->name.c_str(), pool_->name.c_str(), response_->status());
        ++session_.backendCounters()->badAnswers;
        failed();
        if (canRetry()) return retry();
      } else {
        succeeded();
      }
      return session_.refused(data.subspan(used));
    default: {
      const std::string_view why = http::describe(verdict);
      WSEDGE_LOG(kWarn, "invalid upgrade answer from backend %s of pool %s: %.*s",
                 backend()->name.c_str(), pool_->name.c_str(), static_cast<int>(why.size()),
                 why.data());
      return retryOr(Outcome::reply(Side::kBackend, Cause::kProtocolError, 502,
                                    "invalid WebSocket handshake from the backend"));
    }
  }
}

void BackendLeg::onHttpAnswer(std::span<std::byte> rest) {
  const int status = response_->status();
  const http::BodyFraming framing =
      status == 101
          ? http::BodyFraming{}
          : http::responseFraming(response_->head(), status, session_.client().request().method());
  if (status == 101 || framing.kind == http::BodyFraming::Kind::kInvalid) {
    const std::string_view why =
        status == 101 ? std::string_view("101 to a request that asked for no upgrade")
                      : framing.reason;
    WSEDGE_LOG(kWarn, "invalid response from backend %s of pool %s: %.*s", backend()->name.c_str(),
               pool_->name.c_str(), static_cast<int>(why.size()), why.data());
    ++session_.backendCounters()->badAnswers;
    failed();
    return session_.end(Outcome::reply(Side::kBackend, Cause::kProtocolError, 502,
                                       "invalid response from the backend"));
  }
  succeeded();
  phase_ = Phase::kResponse;
  session_.exchange().responseHead(*response_, framing, rest);
}

void BackendLeg::retryOr(const Outcome& outcome) {
  ++session_.backendCounters()->badAnswers;
  failed();
  if (trying_->request.retryable && canRetry()) return retry();
  session_.end(outcome);
}

void BackendLeg::retry() {
  // Nothing the client sent has reached this backend but the request, and
  // the client has seen nothing yet: another backend may answer instead.
  dropAttempt(false);
  response_.reset();
  connectNext();
}

void BackendLeg::onReadEnd(int error) {
  switch (phase_) {
    case Phase::kAnswering:
      if (reused_ && trying_->request.retryable) {
        // An idle connection the backend closed as it was taken: the
        // request goes to the same backend again, on a new connection.
        WSEDGE_LOG(kDebug, "idle connection to backend %s was closed; reconnecting",
                   backend()->name.c_str());
        dropAttempt(false);
        trying_->tried.pop_back();
        trying_->request.preferred = current_;
        trying_->fresh = true;
        return connectNext();
      }
      // Accepted, then closed or reset: a backend in trouble, as a refused
      // connection is. The client has seen nothing: another may serve.
      WSEDGE_LOG(kWarn, "backend %s of pool %s closed the connection before answering",
                 backend()->name.c_str(), pool_->name.c_str());
      return retryOr(
          Outcome::reply(Side::kBackend, Cause::kTransportError, 502,
                         "the backend closed the connection before answering the upgrade"));
    case Phase::kRefused:
      return session_.refusedResponse().backendEnded();
    case Phase::kTunnel:
      return session_.tunnel().backendEnded(error);
    case Phase::kResponse:
      return session_.exchange().backendEnded(error);
    default:
      return;
  }
}

void BackendLeg::onDrained() {
  if (phase_ == Phase::kTunnel) return session_.tunnel().backendDrained();
  // A plain request's body waits on this queue until its answer has come.
  if (trying_ && trying_->request.http) session_.exchange().backendDrained();
}

}  // namespace wsedge::proxy
