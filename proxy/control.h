// The control plane, on the main thread: it starts the workers and the
// health prober, keeps the running snapshot, and replaces it when names
// resolve to other addresses (resolve_interval). A new snapshot is built
// here, never on a worker, and handed to each worker and the prober through
// their mailboxes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "io/worker.h"
#include "proxy/snapshot.h"

namespace wsedge::proxy {

class Control {
 public:
  Control(std::shared_ptr<const Snapshot> snapshot, unsigned workers);
  ~Control();

  /// Starts everything; false with *error if a worker cannot start.
  bool start(std::string* error);
  /// Once a second or so: re-resolves the names whose interval is over.
  void tick(std::uint64_t nowMs);
  /// Stops the workers (every session closes) and the prober, and waits.
  void stop();

  std::shared_ptr<const Snapshot> snapshot() const { return snapshot_; }

 private:
  void install(std::shared_ptr<const Snapshot> next);

  std::shared_ptr<const Snapshot> snapshot_;
  unsigned workerCount_;
  std::vector<std::unique_ptr<io::Worker>> workers_;
  std::unique_ptr<io::Worker> prober_;
  std::map<std::string, std::uint64_t> nextResolveMs_;  // by pool
  std::set<std::string> failingNames_;                  // said once, until they resolve again
};

}  // namespace wsedge::proxy
