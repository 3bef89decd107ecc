// The Prometheus text exposition (format 0.0.4) of a scrape: every worker's
// counters summed, the shared per-backend state read from the running
// snapshot, and the process-wide figures. Built on the admin thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "proxy/snapshot.h"
#include "proxy/telemetry/metrics.h"

namespace wsedge::telemetry {

struct Scrape {
  WorkerMetrics counters;           // summed over the workers
  std::vector<LoopCounters> loops;  // by worker
  std::shared_ptr<const proxy::Snapshot> snapshot;
  std::uint64_t reloadsOk = 0, reloadsFailed = 0;
  std::uint64_t accessLogDropped = 0;
  std::uint64_t logDropped = 0;
  bool draining = false;
  std::uint64_t published = 0;       // POST /publish accepted
  std::uint64_t publishRefused = 0;  // ... and answered 503 (Redis unavailable)
  bool redisConfigured = false;
  std::uint64_t nowMs = 0;  // monotonic, for ejections in force
};

std::string renderPrometheus(const Scrape& scrape);

}  // namespace wsedge::telemetry
