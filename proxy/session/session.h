// One proxied WebSocket, on one worker from accept to close: a coordinator
// over the parts that do the work.
//
//   ClientLeg        the client's connection: the upgrade request, admission, routing
//   BackendLeg       the backend's connection: pick, connect, retry, the upgrade, the 101
//   Tunnel           after the 101: frames both ways, backpressure, the close handshake
//   RefusedResponse  instead of a tunnel: relaying a backend's non-101 answer
//   HttpExchange     a plain HTTP request and its response; then the next one
//   PushSession      a push-only route: the edge's own 101, then what is published
//
// The session pins what it was accepted with (the worker's generation: the
// snapshot, its balancers and TLS contexts) and never looks anything up
// elsewhere. It holds one timer, whose deadline belongs to the part at work.
// Every way it ends goes through end(), once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "io/timer_wheel.h"
#include "proxy/generation.h"
#include "proxy/session/backend_leg.h"
#include "proxy/session/client_leg.h"
#include "proxy/session/context.h"
#include "proxy/session/http_exchange.h"
#include "proxy/session/outcome.h"
#include "proxy/session/push_session.h"
#include "proxy/session/refused_response.h"
#include "proxy/session/tunnel.h"

namespace wsedge::proxy {

class Session final : private io::TimerHandler {
 public:
  /// listener: its index in the generation's snapshot. context must
  /// outlive the session. The session holds one of the listener's places
  /// (ListenerSnapshot::active), taken by the caller, until it is destroyed.
  Session(const SessionContext& context, std::shared_ptr<Generation> generation,
          std::size_t listener, transport::ConnectionPtr client);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// The worker is stopping: close 1001 both ways in a tunnel, drop otherwise.
  void shutdown();
  bool ended() const { return ended_; }
  bool inTunnel() const { return !ended_ && phase_ == Phase::kTunnel; }
  /// A keep-alive connection between plain requests, with nothing of the
  /// next one received: closed at once by a shutdown (closeIfIdle(), which
  /// closes a push subscriber with 1001 too: it has nothing to finish).
  bool idle() const;
  void closeIfIdle();
  /// An open tunnel is closed by a drain at atMs (see Tunnel::drainAt());
  /// false, and nothing done, before the 101.
  bool drainAt(std::uint64_t atMs, Tunnel::Drain why);
  /// The drain this tunnel is under (kNone before the 101).
  Tunnel::Drain draining() const { return tunnel_ ? tunnel_->draining() : Tunnel::Drain::kNone; }
  /// The backend's shared state once one is chosen, or null.
  const BackendState* backendState() const { return backend_.state(); }

  // The worker's list of live sessions.
  Session* prev = nullptr;
  Session* next = nullptr;

  // --- for the parts ---------------------------------------------------------
  const SessionContext& context() const { return ctx_; }
  const Snapshot& snapshot() const { return *gen_->snapshot; }
  const ListenerSnapshot& listener() const { return snapshot().listeners[listener_]; }
  /// The context that made the client's TLS session (kept across reloads).
  tls::ServerContext* tlsContext() const {
    return handshakeGen_ ? handshakeGen_->tls[handshakeListener_].get()
                         : gen_->tls[listener_].get();
  }
  /// Valid once routed.
  const RouteSnapshot& route() const { return *route_; }
  const PoolSnapshot& pool() const { return snapshot().pools[route_->pool]; }
  std::uint64_t now() const { return ctx_.net.timers().now(); }
  /// (Re)sets the one deadline, in ms from now or at a time (~0: none);
  /// the part at work hears onTimeout(). armBy() only ever moves it earlier.
  void arm(std::uint64_t ms);
  void armAt(std::uint64_t deadlineMs);
  void armBy(std::uint64_t deadlineMs);

  ClientLeg& client() { return client_; }
  BackendLeg& backend() { return backend_; }
  Tunnel& tunnel() { return *tunnel_; }
  RefusedResponse& refusedResponse() { return *refused_; }
  HttpExchange& exchange() { return *exchange_; }
  PushSession& push() { return *push_; }
  bool exchanging() const { return exchange_ != nullptr; }
  /// Plain requests answered on this connection so far.
  std::uint32_t requestsServed() const { return requests_; }

  /// The request has arrived: from now on the session serves it with the
  /// newest generation (a reload since the connection was accepted counts),
  /// if that still has the listener.
  void takeLatestGeneration();
  /// The client leg admitted and routed the request.
  void routed(const RouteSnapshot& route);
  /// The backend leg has a valid 101; rest follows it.
  void upgraded(std::span<std::byte> rest);
  /// The backend answered with something else.
  void refused(std::span<std::byte> rest);
  /// A plain request and its response are complete. persistent: the client
  /// was told the connection stays; reusable: so may the backend's.
  void exchangeDone(bool persistent, bool reusable);
  /// The first byte of a request after the first: timing starts again.
  void nextRequestStarted();
  /// The Set-Cookie line a sticky pool's response carries (empty: none needed).
  std::string affinityCookie() const;
  /// The only way out.
  void end(const Outcome& outcome);
  /// The client's TLS handshake is done.
  void secured();
  /// This worker's counters for the session's route (valid once routed).
  telemetry::RouteCounters& routeCounters() const {
    return *gen_->routeCounters[listener_][route_->index];
  }
  /// The counters of the backend chosen, or null.
  telemetry::BackendCounters* backendCounters() const {
    const std::uint32_t b = backend_.index();
    return route_ && route_->pool != RouteSnapshot::kNoPool && b != BackendLeg::kNone
               ? gen_->backendCounters[route_->pool][b]
               : nullptr;
  }
  telemetry::ListenerCounters& listenerCounters() const {
    return *gen_->listenerCounters[listener_];
  }

 private:
  enum class Phase : std::uint8_t { kRequest, kBackend, kTunnel, kRefused, kHttp, kPush };

  // What the access log needs of the request, kept past the handshake.
  struct Details {
    std::string method, host, target, subprotocol, client;
    std::optional<std::uint64_t> handshakeMs;
  };

  void onTimer(io::Timer& timer) override;
  SessionRecord record(const Outcome& outcome) const;
  /// Keeps the request's details while it is still there (access log only).
  void keepDetails();
  void fillDetails(SessionRecord& record) const;
  std::uint64_t elapsedMs() const;
  /// A push-only route's request: the edge answers it itself.
  void startPush(const RouteSnapshot& route);
  /// Waiting for the next plain request, with nothing of it received.
  bool betweenRequests() const;
  /// The tunnel closes at a random time from now to endMs.
  void drainWithin(std::uint64_t endMs, Tunnel::Drain why);

  const SessionContext& ctx_;  // the worker's: it outlives every session
  std::shared_ptr<Generation> gen_;
  std::shared_ptr<Generation> handshakeGen_;  // set when gen_ moved on under a TLS session
  std::uint32_t handshakeListener_ = 0;
  const RouteSnapshot* route_ = nullptr;
  io::Timer timer_;
  std::uint64_t startNs_;  // steady clock
  std::uint32_t listener_;
  std::uint32_t stickyBackend_ = ~std::uint32_t{0};  // the one the request's cookie named
  std::uint32_t requests_ = 0;                       // plain requests answered
  Phase phase_ = Phase::kRequest;
  bool ended_ = false;
  ClientLeg client_;
  BackendLeg backend_;
  std::optional<Tunnel> tunnel_;              // what an open session holds
  std::unique_ptr<RefusedResponse> refused_;  // rare: a pointer's worth while unused
  std::unique_ptr<HttpExchange> exchange_;    // the plain request being served
  std::unique_ptr<HttpExchange> retired_;     // the one before, freed with the next
  std::unique_ptr<PushSession> push_;         // a push-only route's subscriber
  std::unique_ptr<Details> details_;          // access log only
};

}  // namespace wsedge::proxy
