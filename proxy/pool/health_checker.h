// Active health checks: one prober per process (its own thread and loop),
// not one per worker, so a pool of 100 backends is probed 100 times per
// interval. Each probe connects (type tcp), or performs a real WebSocket
// upgrade on the configured path, checks the 101 and its Accept, and closes
// with 1000 (type websocket). unhealthy_threshold failures in a row mark a
// backend unhealthy in the state every worker reads; healthy_threshold
// successes bring it back. Existing sessions are never touched.
#pragma once

#include <map>
#include <memory>

#include "io/loop.h"
#include "io/worker.h"
#include "proxy/snapshot.h"
#include "proxy/transport/network.h"

namespace wsedge::proxy {

class HealthChecker final : public io::Worker::App {
 public:
  explicit HealthChecker(io::Loop& loop);
  ~HealthChecker() override;

  /// The backends to probe from now on: those of pools with a
  /// health_check. A backend kept from the previous snapshot keeps its
  /// probe and its counts. Loop thread only.
  void setSnapshot(std::shared_ptr<const Snapshot> snapshot);
  void stop() override;

  /// Probes so far (for tests).
  std::uint64_t probesRun() const { return probesRun_; }

 private:
  class Probe;
  friend class Probe;

  io::Loop& loop_;
  transport::LoopNetwork net_;
  std::shared_ptr<const Snapshot> snapshot_;
  std::map<const BackendState*, std::unique_ptr<Probe>> probes_;
  std::uint64_t probesRun_ = 0;
  bool stopping_ = false;
};

}  // namespace wsedge::proxy
