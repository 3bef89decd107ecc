// What every worker knows of a pool's backends at this moment: live
// sessions, health, ejection, draining, capacity. One BackendState per
// backend is shared by every worker through the snapshot and carried over,
// by identity, when a snapshot is rebuilt. Touched once per session, never
// per message, so relaxed atomics are enough.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace wsedge::proxy {

struct BackendState {
  std::atomic<std::uint32_t> liveSessions{0};
  std::atomic<std::uint32_t> maxConnections{0};  // 0: no limit
  std::atomic<bool> healthy{true};               // the active health check's verdict
  std::atomic<std::uint64_t> ejectedUntilMs{0};  // monotonic ms; 0: not ejected
  std::atomic<bool> draining{false};
  std::atomic<std::uint64_t> drainEndsMs{0};  // monotonic: its sessions are closed by then
  // Passive health (see outlier.h).
  std::atomic<std::uint32_t> consecutiveFailures{0};
  std::atomic<std::uint32_t> ejections{0};       // in a row: each one lasts longer
  std::atomic<std::uint64_t> ejectionsTotal{0};  // ever, for metrics

  /// May take a new session now.
  bool eligible(std::uint64_t nowMs) const {
    const std::uint32_t max = maxConnections.load(std::memory_order_relaxed);
    return healthy.load(std::memory_order_relaxed) && !draining.load(std::memory_order_relaxed) &&
           ejectedUntilMs.load(std::memory_order_relaxed) <= nowMs &&
           (max == 0 || liveSessions.load(std::memory_order_relaxed) < max);
  }
  std::uint32_t live() const { return liveSessions.load(std::memory_order_relaxed); }
};

class PoolState {
 public:
  PoolState() = default;
  explicit PoolState(std::vector<std::shared_ptr<BackendState>> backends)
      : backends_(std::move(backends)) {}

  std::size_t size() const { return backends_.size(); }
  BackendState& backend(std::size_t i) const { return *backends_[i]; }
  const std::shared_ptr<BackendState>& shared(std::size_t i) const { return backends_[i]; }

 private:
  std::vector<std::shared_ptr<BackendState>> backends_;
};

}  // namespace wsedge::proxy
