#include "proxy/control.h"

#include <algorithm>

#include "proxy/log.h"
#include "proxy/pool/health_checker.h"
#include "proxy/proxy_worker.h"

namespace wsedge::proxy {
namespace {

// Whether a pool names a backend by name (so that looking again may change it).
bool hasNames(const conf::PoolConfig& p) {
  return std::any_of(p.backends.begin(), p.backends.end(), [](const conf::BackendConfig& b) {
    return !io::SocketAddress::isNumeric(b.host);
  });
}

}  // namespace

Control::Control(std::shared_ptr<const Snapshot> snapshot, unsigned workers)
    : snapshot_(std::move(snapshot)), workerCount_(workers) {}

Control::~Control() {
  stop();
}

bool Control::start(std::string* error) {
  const std::vector<int> cpus = io::allowedCpus();
  io::Loop::Options options;
  options.maxConnections = snapshot_->config.workerConnections;
  const std::shared_ptr<const Snapshot> snap = snapshot_;
  try {
    for (unsigned i = 0; i < workerCount_; ++i) {
      auto setup = [snap, i](io::Loop& loop) -> std::shared_ptr<io::Worker::App> {
        log::setThreadName("w" + std::to_string(i));
        auto app = std::make_shared<ProxyWorker>(loop);
        std::string why;
        if (!app->install(snap, &why)) throw std::runtime_error(why);
        return app;
      };
      workers_.push_back(
          std::make_unique<io::Worker>(static_cast<int>(i), cpus[i % cpus.size()], options, setup));
      workers_.back()->start();
    }
    // One prober for the process; it always runs, so that a reload may add
    // health checks (it costs nothing without them).
    auto setup = [snap](io::Loop& loop) -> std::shared_ptr<io::Worker::App> {
      log::setThreadName("health");
      auto app = std::make_shared<HealthChecker>(loop);
      app->setSnapshot(snap);
      return app;
    };
    prober_ = std::make_unique<io::Worker>(-1, -1, io::Loop::Options{}, setup);
    prober_->start();
  } catch (const std::exception& e) {
    *error = e.what();
    stop();
    return false;
  }
  return true;
}

void Control::install(std::shared_ptr<const Snapshot> next) {
  snapshot_ = next;
  for (auto& w : workers_) {
    w->postToApp([next](io::Worker::App& app) {
      std::string error;
      if (!static_cast<ProxyWorker&>(app).install(next, &error)) {
        WSEDGE_LOG(kError, "a worker could not take the new configuration: %s", error.c_str());
      }
    });
  }
  if (prober_) {
    prober_->postToApp(
        [next](io::Worker::App& app) { static_cast<HealthChecker&>(app).setSnapshot(next); });
  }
}

void Control::tick(std::uint64_t nowMs) {
  // Each pool with names is looked up again on its own resolve_interval.
  Refresh refresh;
  for (const PoolSnapshot& p : snapshot_->pools) {
    const std::uint64_t interval = p.config->resolveIntervalMs;
    if (interval == 0 || !hasNames(*p.config)) continue;
    std::uint64_t& due = nextResolveMs_[p.name];
    if (due == 0) due = nowMs + interval;
    if (nowMs < due) continue;
    due = nowMs + interval;
    refresh.pools.insert(p.name);
  }
  if (refresh.pools.empty()) return;
  std::vector<std::string> warnings;
  std::shared_ptr<const Snapshot> next;
  try {
    next = buildSnapshot(snapshot_->config, snapshot_.get(), &warnings, &refresh);
  } catch (const std::exception& e) {
    WSEDGE_LOG(kWarn, "re-resolving the backends failed: %s", e.what());
    return;
  }
  // A lookup that fails keeps the last good addresses, and is said once.
  std::set<std::string> failing(warnings.begin(), warnings.end());
  for (const std::string& w : failing) {
    if (!failingNames_.count(w)) WSEDGE_LOG(kWarn, "%s", w.c_str());
  }
  failingNames_ = std::move(failing);
  if (sameAddresses(*snapshot_, *next)) return;
  for (const PoolSnapshot& p : next->pools) {
    std::string list;
    for (const BackendSnapshot& b : p.backends) list += " " + b.address.toString();
    WSEDGE_LOG(kInfo, "pool %s now has:%s", p.name.c_str(), list.c_str());
  }
  install(std::move(next));
}

void Control::stop() {
  for (auto& w : workers_) w->stop();
  if (prober_) prober_->stop();
  for (auto& w : workers_) w->join();
  if (prober_) prober_->join();
  workers_.clear();
  prober_.reset();
}

}  // namespace wsedge::proxy
