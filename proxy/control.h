// The control plane: it starts the workers and the health prober, keeps the
// running snapshot, and replaces it on a reload (SIGHUP, POST /reload) or
// when names resolve to other addresses (resolve_interval). A new snapshot
// is built on the calling thread, never on a worker, and handed to each
// worker and the prober through their mailboxes. It also runs the drains:
// of the whole process (SIGTERM) and of one backend (removed by a reload,
// or POST /drain).
//
// Thread-safe: the main thread (signals, ticks) and the admin thread call it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "io/worker.h"
#include "proxy/snapshot.h"
#include "proxy/telemetry/access_log.h"
#include "proxy/telemetry/metrics.h"

namespace wsedge::proxy {

class ProxyWorker;

struct ReloadResult {
  bool ok = false;
  std::vector<std::string> errors;    // file:line:col lines, when refused
  std::vector<std::string> warnings;  // taken, but worth saying
  std::uint64_t generation = 0;       // running after the call
  std::uint64_t switchMs = 0;         // until the last worker took the new snapshot
};

/// A backend as POST /drain names it: every pool's backends written so.
struct DrainResult {
  std::size_t backends = 0;  // matched (0: unknown address)
  std::size_t sessions = 0;  // tunnels scheduled to close
};

class Control {
 public:
  /// accessLog: where the workers write theirs (null: none).
  Control(std::shared_ptr<const Snapshot> snapshot, unsigned workers,
          telemetry::AccessLog* accessLog = nullptr);
  ~Control();

  /// Starts everything; false with *error if a worker cannot start.
  bool start(std::string* error);
  /// Once a second or so: re-resolves the names whose interval is over.
  void tick(std::uint64_t nowMs);
  /// Reads the configuration file again and, if it is valid and can be
  /// served, switches every worker to it. Otherwise nothing changes.
  ReloadResult reload();
  /// SIGTERM: every worker stops accepting and closes its tunnels over
  /// limits.drain_window. Returns at once (see waitEnded()), with the
  /// limits the drain follows.
  conf::Limits shutdown();
  /// Whether shutdown() was called.
  bool draining() const { return draining_.load(std::memory_order_relaxed); }
  /// Waits up to timeoutMs for every worker to have ended.
  bool waitEnded(int timeoutMs);
  /// Stops the workers (every session closes) and the prober, and waits.
  void stop();

  /// Hands a message to every worker's subscribers of the channel (the
  /// in-process bus), in the order of the calls; done hears how many
  /// subscribers it reached, on a worker's thread (or the caller's), once
  /// every worker has handed it out.
  void publishLocally(const std::string& channel, std::string payload, bool binary,
                      std::function<void(std::uint64_t reached)> done);

  /// Drains (on) or takes back (off) every backend written as `address`.
  DrainResult drainBackend(const std::string& address, bool on);

  /// Runs fn on every worker's loop thread with its ProxyWorker; then, once
  /// every worker has run it (or ended), done on one of those threads (or
  /// on the caller's, if no worker is running).
  void forEachWorker(std::function<void(unsigned index, ProxyWorker&)> fn,
                     std::function<void()> done);

  /// The counters worker i had as it ended, once it has (waits for that up
  /// to a second); false if it has not.
  bool lastCounters(unsigned i, telemetry::WorkerMetrics* metrics,
                    telemetry::LoopCounters* loop) const;

  std::shared_ptr<const Snapshot> snapshot() const;
  unsigned workerCount() const { return workerCount_; }
  std::uint64_t reloadsOk() const { return reloadsOk_.load(std::memory_order_relaxed); }
  std::uint64_t reloadsFailed() const { return reloadsFailed_.load(std::memory_order_relaxed); }

 private:
  /// Switches every worker, then (if all did) the prober and snapshot();
  /// *switchMs is the time until the last worker had switched. False with
  /// *error if a worker could not (the others may have).
  bool install(std::shared_ptr<const Snapshot> next, std::uint64_t* switchMs, std::string* error);
  void publish(std::shared_ptr<const Snapshot> snapshot);
  /// Drains every backend of `previous` that `next` does not have.
  void drainRemoved(const Snapshot& previous, const Snapshot& next);

  std::mutex mutex_;                 // one operation at a time
  mutable std::mutex publishMutex_;  // snapshot_: written under both, read under either
  std::shared_ptr<const Snapshot> snapshot_;
  unsigned workerCount_;
  telemetry::AccessLog* accessLog_;
  std::vector<std::unique_ptr<io::Worker>> workers_;
  std::unique_ptr<io::Worker> prober_;
  std::map<std::string, std::uint64_t> nextResolveMs_;  // by pool
  std::set<std::string> failingNames_;                  // said once, until they resolve again
  struct Last {
    telemetry::WorkerMetrics metrics;
    telemetry::LoopCounters loop;
  };
  mutable std::mutex lastMutex_;
  std::vector<std::optional<Last>> last_;  // by worker, once it has ended
  std::atomic<bool> draining_{false};
  std::atomic<std::uint64_t> reloadsOk_{0};
  std::atomic<std::uint64_t> reloadsFailed_{0};
};

}  // namespace wsedge::proxy
