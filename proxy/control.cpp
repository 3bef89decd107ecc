#include "proxy/control.h"

#include <algorithm>
#include <chrono>
#include <future>

#include "conf/loader.h"
#include "io/clock.h"
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

Control::Control(std::shared_ptr<const Snapshot> snapshot, unsigned workers,
                 telemetry::AccessLog* accessLog)
    : snapshot_(std::move(snapshot)), workerCount_(workers), accessLog_(accessLog) {}

Control::~Control() {
  stop();
}

bool Control::start(std::string* error) {
  last_.resize(workerCount_);
  const std::vector<int> cpus = io::allowedCpus();
  io::Loop::Options options;
  options.maxConnections = snapshot_->config.workerConnections;
  const std::shared_ptr<const Snapshot> snap = snapshot_;
  try {
    for (unsigned i = 0; i < workerCount_; ++i) {
      telemetry::AccessLog* accessLog = accessLog_;
      auto setup = [this, snap, i, accessLog](io::Loop& loop) -> std::shared_ptr<io::Worker::App> {
        log::setThreadName("w" + std::to_string(i));
        auto app = std::make_shared<ProxyWorker>(loop, i, accessLog);
        app->setFarewell(
            [this, i](const telemetry::WorkerMetrics& m, const telemetry::LoopCounters& l) {
              std::lock_guard lock(lastMutex_);
              last_[i] = Last{m, l};
            });
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

bool Control::lastCounters(unsigned i, telemetry::WorkerMetrics* metrics,
                           telemetry::LoopCounters* loop) const {
  if (i >= workers_.size() || !workers_[i]->waitEnded(1000)) return false;
  std::lock_guard lock(lastMutex_);
  if (!last_[i]) return false;
  *metrics = last_[i]->metrics;
  *loop = last_[i]->loop;
  return true;
}

std::shared_ptr<const Snapshot> Control::snapshot() const {
  std::lock_guard lock(publishMutex_);
  return snapshot_;
}

void Control::publish(std::shared_ptr<const Snapshot> snapshot) {
  std::lock_guard lock(publishMutex_);
  snapshot_ = std::move(snapshot);
}

void Control::forEachWorker(std::function<void(unsigned, ProxyWorker&)> fn,
                            std::function<void()> done) {
  // Whoever lets go of the last copy (a worker that ran its task, or a
  // mailbox dropping it because its loop has ended) calls done.
  std::shared_ptr<void> latch(nullptr, [done = std::move(done)](void*) { done(); });
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    workers_[i]->postToApp([fn, latch, i](io::Worker::App& app) {
      fn(static_cast<unsigned>(i), static_cast<ProxyWorker&>(app));
    });
  }
}

void Control::publishLocally(const std::string& channel, std::string payload, bool binary,
                             std::function<void(std::uint64_t)> done) {
  struct Delivery {
    std::string channel, payload;
    std::atomic<std::uint64_t> reached{0};
  };
  auto d = std::make_shared<Delivery>();
  d->channel = channel;
  d->payload = std::move(payload);
  forEachWorker(
      [d, binary](unsigned, ProxyWorker& worker) {
        const std::size_t n =
            worker.publish(d->channel, std::as_bytes(std::span(d->payload)), binary);
        d->reached.fetch_add(n, std::memory_order_relaxed);
      },
      [d, done = std::move(done)] { done(d->reached.load(std::memory_order_relaxed)); });
}

bool Control::install(std::shared_ptr<const Snapshot> next, std::uint64_t* switchMs,
                      std::string* error) {
  const auto started = std::chrono::steady_clock::now();
  struct Switch {
    std::mutex mutex;
    std::string error;  // the first worker's that could not take it
    std::promise<void> done;
  };
  auto sw = std::make_shared<Switch>();
  std::future<void> all = sw->done.get_future();
  forEachWorker(
      [next, sw](unsigned, ProxyWorker& worker) {
        std::string why;
        if (worker.install(next, &why)) return;
        std::lock_guard lock(sw->mutex);
        if (sw->error.empty()) sw->error = why;
      },
      [sw] { sw->done.set_value(); });
  if (all.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    *error = "a worker took more than 5 s to switch";
    return false;
  }
  *switchMs = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::steady_clock::now() - started)
                                             .count());
  std::lock_guard lock(sw->mutex);
  if (!sw->error.empty()) {
    *error = "a worker could not take it: " + sw->error;
    return false;
  }
  publish(next);
  if (prober_) {
    prober_->postToApp(
        [next](io::Worker::App& app) { static_cast<HealthChecker&>(app).setSnapshot(next); });
  }
  return true;
}

void Control::drainRemoved(const Snapshot& previous, const Snapshot& next) {
  std::set<const BackendState*> kept;
  for (const PoolSnapshot& p : next.pools) {
    for (std::size_t i = 0; i < p.state.size(); ++i) kept.insert(&p.state.backend(i));
  }
  for (const PoolSnapshot& p : previous.pools) {
    for (std::size_t i = 0; i < p.state.size(); ++i) {
      std::shared_ptr<BackendState> state = p.state.shared(i);
      if (kept.count(state.get())) continue;
      // The window the new configuration gives (its pool's, if it still has it).
      std::uint64_t window = next.config.limits.drainWindowMs;
      for (const PoolSnapshot& q : next.pools) {
        if (q.name == p.name) window = q.config->limits.drainWindowMs;
      }
      state->drainEndsMs.store(io::monotonicMs() + window, std::memory_order_relaxed);
      state->draining.store(true, std::memory_order_release);
      forEachWorker([state, window](unsigned, ProxyWorker& w) { w.drainBackend(*state, window); },
                    [] {});
      WSEDGE_LOG(kInfo, "backend %s left pool %s: draining its sessions over %llu ms",
                 p.backends[i].name.c_str(), p.name.c_str(),
                 static_cast<unsigned long long>(window));
    }
  }
}

ReloadResult Control::reload() {
  std::lock_guard lock(mutex_);
  ReloadResult result;
  result.generation = snapshot_->generation;
  const std::string& path = snapshot_->config.file;
  std::shared_ptr<const Snapshot> next;
  if (draining_.load(std::memory_order_relaxed)) {
    result.errors.push_back("the proxy is draining (SIGTERM): it takes no new configuration");
  } else {
    try {
      next = buildSnapshot(conf::loadConfig(path), snapshot_.get(), &result.warnings);
    } catch (const conf::ConfigError& e) {
      result.errors = e.errors();
    } catch (const std::exception& e) {
      result.errors.push_back(path + ": " + e.what());
    }
  }
  // New listeners must be free before any worker tries them.
  if (next) {
    for (const ListenerSnapshot& l : next->listeners) {
      const bool kept = std::any_of(snapshot_->listeners.begin(), snapshot_->listeners.end(),
                                    [&](const ListenerSnapshot& old) {
                                      return old.address.toString() == l.address.toString();
                                    });
      std::string error;
      if (!kept && !io::Loop::probeFree(l.address, &error)) {
        for (const conf::ListenerConfig& lc : next->config.listeners) {
          if (lc.address == l.name) error = lc.where.toString() + ": " + error;
        }
        result.errors.push_back(error);
      }
    }
  }
  const auto refuse = [&] {
    reloadsFailed_.fetch_add(1, std::memory_order_relaxed);
    for (const std::string& line : result.errors) {
      WSEDGE_LOG(kError, "reload refused: %s", line.c_str());
    }
    WSEDGE_LOG(kError, "reload refused: generation %llu keeps running",
               static_cast<unsigned long long>(snapshot_->generation));
    return result;
  };
  if (!result.errors.empty()) return refuse();
  const conf::Config& was = snapshot_->config;
  const conf::Config& now = next->config;
  if (now.workers != was.workers || now.workerConnections != was.workerConnections) {
    result.warnings.push_back("workers and worker_connections change only on a restart");
  }
  const auto adminAddress = [](const conf::Config& c) { return c.admin ? c.admin->address : ""; };
  const auto logPath = [](const conf::Config& c) { return c.accessLog ? c.accessLog->path : ""; };
  if (adminAddress(now) != adminAddress(was) || logPath(now) != logPath(was)) {
    result.warnings.push_back("the admin address and the access log path change only on a restart");
  }
  for (const std::string& w : result.warnings) WSEDGE_LOG(kWarn, "reload: %s", w.c_str());
  const std::shared_ptr<const Snapshot> previous = snapshot_;
  std::string error;
  if (!install(next, &result.switchMs, &error)) {
    // Every worker goes back to what it served, so that they all agree.
    std::uint64_t ms = 0;
    std::string again;
    if (!install(previous, &ms, &again)) {
      WSEDGE_LOG(kError, "a worker could not go back to generation %llu: %s",
                 static_cast<unsigned long long>(previous->generation), again.c_str());
    }
    result.errors.push_back(error);
    return refuse();
  }
  drainRemoved(*previous, *next);
  result.ok = true;
  result.generation = next->generation;
  reloadsOk_.fetch_add(1, std::memory_order_relaxed);
  WSEDGE_LOG(kInfo, "reloaded %s: generation %llu, every worker switched in %llu ms", path.c_str(),
             static_cast<unsigned long long>(next->generation),
             static_cast<unsigned long long>(result.switchMs));
  return result;
}

conf::Limits Control::shutdown() {
  std::lock_guard lock(mutex_);
  const conf::Limits limits = snapshot_->config.limits;
  if (draining_.exchange(true)) return limits;
  const std::uint64_t window = limits.drainWindowMs;
  forEachWorker([window](unsigned, ProxyWorker& w) { w.shutdownOver(window); }, [] {});
  return limits;
}

bool Control::waitEnded(int timeoutMs) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  for (auto& w : workers_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (!w->waitEnded(static_cast<int>(std::max<std::int64_t>(0, left.count())))) return false;
  }
  return true;
}

DrainResult Control::drainBackend(const std::string& address, bool on) {
  std::lock_guard lock(mutex_);
  DrainResult result;
  for (const PoolSnapshot& p : snapshot_->pools) {
    for (std::size_t i = 0; i < p.backends.size(); ++i) {
      if (p.backends[i].written != address && p.backends[i].address.toString() != address) {
        continue;
      }
      ++result.backends;
      std::shared_ptr<BackendState> state = p.state.shared(i);
      const std::uint64_t window = p.config->limits.drainWindowMs;
      state->drainEndsMs.store(io::monotonicMs() + window, std::memory_order_relaxed);
      state->draining.store(on, std::memory_order_release);
      auto count = std::make_shared<std::atomic<std::size_t>>(0);
      auto finished = std::make_shared<std::promise<void>>();
      std::future<void> all = finished->get_future();
      forEachWorker(
          [state, window, on, count](unsigned, ProxyWorker& w) {
            if (on) {
              count->fetch_add(w.drainBackend(*state, window), std::memory_order_relaxed);
            } else {
              w.undrainBackend(*state);
            }
          },
          [finished] { finished->set_value(); });
      all.wait_for(std::chrono::seconds(5));
      result.sessions += count->load(std::memory_order_relaxed);
      WSEDGE_LOG(kInfo, "backend %s of pool %s %s", p.backends[i].name.c_str(), p.name.c_str(),
                 on ? "drained: no new sessions, its clients get 1012" : "taken back");
    }
  }
  return result;
}

void Control::tick(std::uint64_t nowMs) {
  std::lock_guard lock(mutex_);
  if (draining_.load(std::memory_order_relaxed)) return;
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
  std::uint64_t ms = 0;
  std::string error;
  if (!install(next, &ms, &error)) {
    WSEDGE_LOG(kError, "the new addresses were not taken: %s", error.c_str());
    install(snapshot_, &ms, &error);
  }
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
