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

  /// Starts trying the pool's backends with this upgrade request (and the
  /// request's hash key, for a hashing pool). The first attempt goes to
  /// `preferred` (a sticky cookie's backend) if it may take a session.
  void start(const PoolSnapshot& pool, Balancer& balancer, std::string request,
             std::optional<std::uint64_t> hashKey,
             std::optional<std::size_t> preferred = std::nullopt);
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
  enum class Phase : std::uint8_t { kIdle, kConnecting, kUpgrading, kTunnel, kRefused };

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
  /// This session counts as one of the backend's live sessions.
  void hold(std::size_t backend);
  void release();

  // What trying backends takes; released once the tunnel opens.
  struct Trying {
    Balancer* balancer = nullptr;
    std::optional<std::uint64_t> hashKey;
    std::optional<std::size_t> preferred;
    std::string request;
    std::vector<std::uint32_t> tried;
    std::uint32_t maxAttempts = 0;
    bool lastTimedOut = false;
  };
  Session& session_;
  Phase phase_ = Phase::kIdle;
  bool held_ = false;              // this session counts in current_'s liveSessions
  std::uint32_t current_ = kNone;  // the backend being tried, or chosen
  std::uint32_t attempts_ = 0;
  const PoolSnapshot* pool_ = nullptr;
  std::unique_ptr<Trying> trying_;
  std::unique_ptr<http::UpgradeResponseParser> response_;  // kept for a refused upgrade
};

}  // namespace wsedge::proxy
