// A worker: one thread pinned to one core, owning one Loop and the App that
// runs on it. The loop is built on the worker's own thread (the ring is
// single-issuer), and start() reports any error from building it, so
// start-up fails with the real reason. Other threads talk to the worker only
// through its mailbox (post()).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "io/loop.h"

namespace wsedge::io {

class Worker {
 public:
  /// What runs on the loop: built by Setup on the worker thread.
  class App {
   public:
    virtual ~App() = default;
    /// Stop: close what is open so that the loop runs dry (Loop::quit()).
    virtual void stop() = 0;
  };

  /// Runs on the worker thread with its new loop (create listeners, ...).
  /// It may throw; start() rethrows. The app is destroyed before the loop.
  using Setup = std::function<std::shared_ptr<App>(Loop& loop)>;

  /// cpu < 0: not pinned.
  Worker(int index, int cpu, Loop::Options options, Setup setup);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  /// Starts the thread and waits until its loop is running or has failed.
  void start();
  /// Runs task on the worker's loop thread (thread-safe). Dropped once the
  /// loop has ended.
  void post(Mailbox::Task task);
  /// Posts fn(app) to the loop thread (thread-safe); dropped if the app is gone.
  void postToApp(std::function<void(App&)> fn);
  /// Posts the app's stop().
  void stop();
  void join();
  /// Waits up to timeoutMs for the loop to have ended (the app's stop()
  /// ran and every connection closed); true once it has.
  bool waitEnded(int timeoutMs);
  int index() const { return index_; }

 private:
  void main();

  int index_;
  int cpu_;
  Loop::Options options_;
  Setup setup_;
  std::thread thread_;
  Loop* loop_ = nullptr;      // under sync_->mutex, while the loop runs
  std::shared_ptr<App> app_;  // touched on the worker thread only
  std::string error_;
  bool ready_ = false;
  bool ended_ = false;
  struct Sync;
  std::unique_ptr<Sync> sync_;
};

/// CPUs this process may run on, in order.
std::vector<int> allowedCpus();

}  // namespace wsedge::io
