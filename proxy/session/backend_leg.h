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
#include "proxy/snapshot.h"

namespace wsedge::proxy {

class Session;

class BackendLeg final : public Leg, private transport::Handler {
 public:
  explicit BackendLeg(Session& session) : session_(session) {}
  ~BackendLeg();

  /// Starts trying the pool's backends with this upgrade request.
  void start(const PoolSnapshot& pool, Balancer& balancer, std::string request);
  /// Valid from the answer until the session ends.
  const http::UpgradeResponseParser& response() const { return *response_; }
  void enterTunnel();
  void enterRefused() { phase_ = Phase::kRefused; }
  void onTimeout();
  void close(bool graceful);

  /// The backend chosen (or last tried), or null.
  const BackendSnapshot* backend() const;
  std::uint32_t attempts() const { return static_cast<std::uint32_t>(tried_.size()); }

 private:
  enum class Phase : std::uint8_t { kIdle, kConnecting, kUpgrading, kTunnel, kRefused };

  void onConnected(int error) override;
  void onData(std::span<std::byte> data) override;
  void onReadEnd(int error) override;
  void onDrained() override;

  void connectNext();
  /// Gives up the current attempt's connection.
  void dropAttempt(bool timedOut);
  void onAnswer(std::span<std::byte> data);
  /// This session counts as one of the backend's live sessions.
  void hold(std::size_t backend);
  void release();

  Session& session_;
  Phase phase_ = Phase::kIdle;
  const PoolSnapshot* pool_ = nullptr;
  Balancer* balancer_ = nullptr;
  std::string request_;  // released once answered
  std::unique_ptr<http::UpgradeResponseParser> response_;
  std::vector<std::uint32_t> tried_;
  std::optional<std::size_t> held_;  // counted in its liveSessions
  std::uint32_t maxAttempts_ = 0;
  bool lastTimedOut_ = false;
};

}  // namespace wsedge::proxy
