// A worker: one thread pinned to one core, owning one Loop. The loop is built
// on the worker's own thread (the ring is single-issuer), and start() reports
// any error from building it, so start-up fails with the real reason.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "io/loop.h"

namespace wsedge::io {

class Worker {
 public:
  /// setup runs on the worker thread with its new loop (create listeners,
  /// install the wake handler, ...). It may throw; start() rethrows. What it
  /// returns is kept alive while the loop runs and destroyed before the loop.
  using Setup = std::function<std::shared_ptr<void>(Loop& loop)>;

  /// cpu < 0: not pinned.
  Worker(int index, int cpu, Loop::Options options, Setup setup);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  /// Starts the thread and waits until its loop is running or has failed.
  void start();
  /// Wakes the loop's wake handler (thread-safe).
  void wake();
  void join();
  int index() const { return index_; }

 private:
  void main();

  int index_;
  int cpu_;
  Loop::Options options_;
  Setup setup_;
  std::thread thread_;
  int wakeFd_ = -1;
  std::string error_;
  bool ready_ = false;
  struct Sync;
  std::unique_ptr<Sync> sync_;
};

/// CPUs this process may run on, in order.
std::vector<int> allowedCpus();

}  // namespace wsedge::io
