// The backend's side of a session, and the handler of its connection: picks
// a backend (never one already tried), connects (connect timeout), retries
// the next on failure, writes the upgrade request, and checks the answer
// (backend timeout): a valid 101 opens the tunnel, any other answer is
// relayed as it is.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxy/http/response_parser.h"
#include "proxy/pool/balancer.h"
#include "proxy/session/leg.h"
#include "proxy/session/outcome.h"
#include "proxy/snapshot.h"

namespace wsedge::proxy {

class Session;

class BackendLeg final : public Leg, private transport::Handler {
 public:
  explicit BackendLeg(Session& session) : session_(session) {}
  ~BackendLeg();

  /// What to send, and how to choose where.
  struct Request {
    std::string head;                      // the request head for the backend
    std::optional<std::uint64_t> hashKey;  // for a hashing pool
    /// The first attempt goes here (a sticky cookie's backend) if it may take a session.
    std::optional<std::size_t> preferred;
    bool http = false;  // a plain HTTP request (else an upgrade)
    /// It may be sent again after a backend failed having read it (an
    /// idempotent request without a body); a connect failure is always retried.
    bool retryable = true;
  };
  /// Starts trying the pool's backends with this request. A plain request
  /// takes an idle connection to the chosen backend if the worker has one.
  void start(const PoolSnapshot& pool, Balancer& balancer, Request request);
  /// Still connecting (its timer is the connect timeout).
  bool connecting() const { return phase_ == Phase::kConnecting; }
  /// A plain request's exchange is over: the connection goes back to the
  /// worker's idle pool if reusable, else it is closed.
  void finishHttp(bool reusable);
  /// The request it served is accounted for: it names no backend (nor the
  /// snapshot it came from) until the next request starts.
  void forget();
  /// Valid from the answer until the session ends.
  const http::UpgradeResponseParser& response() const { return *response_; }
  void enterTunnel();
  void enterRefused() { phase_ = Phase::kRefused; }
  void onTimeout();
  void close(bool graceful);

  /// The backend chosen (or last tried), or null.
  const BackendSnapshot* backend() const;
  /// The shared state of that backend, or null.
  const BackendState* state() const {
    return current_ != kNone && pool_ ? &pool_->state.backend(current_) : nullptr;
  }
  std::uint32_t attempts() const { return attempts_; }
  static constexpr std::uint32_t kNone = ~std::uint32_t{0};
  /// The backend's index in its pool, or kNone.
  std::uint32_t index() const { return current_; }

 private:
  // kAnswering: the request is out, its answer awaited; kResponse: a plain
  // request's response body is being relayed.
  enum class Phase : std::uint8_t { kIdle, kConnecting, kAnswering, kTunnel, kRefused, kResponse };

  void onConnected(int error) override;
  void onData(std::span<std::byte> data) override;
  void onReadEnd(int error) override;
  void onDrained() override;

  void connectNext();
  /// Another backend may still be tried.
  bool canRetry() const;
  void retry();
  /// A failed answer: retry if allowed, else end with the outcome.
  void retryOr(const Outcome& outcome);
  // Passive health of the backend being tried.
  void failed();
  void succeeded();
  /// Gives up the current attempt's connection.
  void dropAttempt(bool timedOut);
  void onAnswer(std::span<std::byte> data);
  /// A plain request's answer head is complete.
  void onHttpAnswer(std::span<std::byte> rest);
  /// Connected (fresh or reused): the request goes out.
  void sendRequest();
  /// This session counts as one of the backend's live sessions.
  void hold(std::size_t backend);
  void release();

  // What trying backends takes; released once the tunnel opens.
  struct Trying {
    Balancer* balancer = nullptr;
    Request request;
    std::vector<std::uint32_t> tried;
    std::uint32_t maxAttempts = 0;
    bool lastTimedOut = false;
    bool fresh = false;  // a reused connection failed: the next is a new one
  };
  Session& session_;
  Phase phase_ = Phase::kIdle;
  bool held_ = false;              // this session counts in current_'s liveSessions
  bool reused_ = false;            // the connection came from the worker's idle pool
  std::uint32_t current_ = kNone;  // the backend being tried, or chosen
  std::uint32_t attempts_ = 0;
  const PoolSnapshot* pool_ = nullptr;
  std::unique_ptr<Trying> trying_;
  std::unique_ptr<http::UpgradeResponseParser> response_;  // kept for a refused upgrade
};

}  // namespace wsedge::proxy
