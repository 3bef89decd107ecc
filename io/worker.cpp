#include "io/worker.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>

namespace wsedge::io {

struct Worker::Sync {
  std::mutex mutex;
  std::condition_variable cv;
};

std::vector<int> allowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int i = 0; i < CPU_SETSIZE; ++i) {
      if (CPU_ISSET(i, &set)) cpus.push_back(i);
    }
  }
  if (cpus.empty()) cpus.push_back(0);
  return cpus;
}

Worker::Worker(int index, int cpu, Loop::Options options, Setup setup)
    : index_(index),
      cpu_(cpu),
      options_(options),
      setup_(std::move(setup)),
      sync_(std::make_unique<Sync>()) {}

Worker::~Worker() {
  join();
}

void Worker::start() {
  thread_ = std::thread([this] { main(); });
  std::unique_lock lock(sync_->mutex);
  sync_->cv.wait(lock, [this] { return ready_ || !error_.empty(); });
  if (!error_.empty()) {
    lock.unlock();
    thread_.join();
    throw std::runtime_error(error_);
  }
}

void Worker::main() {
  // Pinned: a session lives on this core from accept to close.
  if (cpu_ >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu_, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  }
  std::unique_ptr<Loop> loop;
  try {
    loop = std::make_unique<Loop>(options_);
    app_ = setup_(*loop);
  } catch (const std::exception& e) {
    app_.reset();
    std::lock_guard lock(sync_->mutex);
    error_ = e.what();
    sync_->cv.notify_all();
    return;
  }
  {
    std::lock_guard lock(sync_->mutex);
    loop_ = loop.get();
    ready_ = true;
    sync_->cv.notify_all();
  }
  try {
    loop->run();
  } catch (const std::exception& e) {
    // Nothing on the data path throws; an exception here is a bug, and
    // carrying on would leave connections in an unknown state.
    std::fprintf(stderr, "wsedge: worker %d: unexpected exception: %s\n", index_, e.what());
    std::abort();
  }
  {
    std::lock_guard lock(sync_->mutex);
    loop_ = nullptr;
  }
  app_.reset();
  loop.reset();
  std::lock_guard lock(sync_->mutex);
  ended_ = true;
  sync_->cv.notify_all();
}

bool Worker::waitEnded(int timeoutMs) {
  std::unique_lock lock(sync_->mutex);
  return sync_->cv.wait_for(lock, std::chrono::milliseconds(timeoutMs),
                            [this] { return ended_ || !error_.empty(); });
}

void Worker::post(Mailbox::Task task) {
  std::lock_guard lock(sync_->mutex);
  if (loop_) loop_->post(std::move(task));
}

void Worker::postToApp(std::function<void(App&)> fn) {
  post([this, fn = std::move(fn)] {
    if (app_) fn(*app_);
  });
}

void Worker::stop() {
  postToApp([](App& app) { app.stop(); });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace wsedge::io
