// What one worker keeps for one snapshot: a balancer per pool (its own
// rotation state) and a TLS context per wss:// listener (its own session
// cache), and where the worker's counters for its listeners, routes and
// backends are (see telemetry/metrics.h). Sessions hold it as long as they live, so a worker that
// moves on to a newer snapshot keeps the older one's state exactly as long as a session of that
// generation needs it.
#pragma once

#include <memory>
#include <vector>

#include "proxy/pool/balancer.h"
#include "proxy/snapshot.h"
#include "proxy/telemetry/metrics.h"
#include "tls/server_context.h"

namespace wsedge::proxy {

struct Generation {
  std::shared_ptr<const Snapshot> snapshot;
  std::vector<std::unique_ptr<Balancer>> balancers;      // by pool
  std::vector<std::unique_ptr<tls::ServerContext>> tls;  // by listener; null for ws://
  // Counters in the worker's WorkerMetrics, which outlives every generation.
  std::vector<telemetry::ListenerCounters*> listenerCounters;             // by listener
  std::vector<std::vector<telemetry::RouteCounters*>> routeCounters;      // by listener, route
  std::vector<std::vector<telemetry::BackendCounters*>> backendCounters;  // by pool, backend

  /// Counts into `metrics` (its own counters if null, as in tests). Throws
  /// std::runtime_error if a TLS context cannot be made.
  explicit Generation(std::shared_ptr<const Snapshot> snap,
                      telemetry::WorkerMetrics* metrics = nullptr);

 private:
  std::unique_ptr<telemetry::WorkerMetrics> own_;
};

}  // namespace wsedge::proxy
