// wsedge: the WebSocket edge proxy.
//
//   wsedge -c wsedge.yaml            serve
//   wsedge -c wsedge.yaml --check    validate the configuration and exit
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conf/loader.h"
#include "io/clock.h"
#include "io/loop.h"
#include "io/notice.h"
#include "io/worker.h"
#include "proxy/admin/admin_api.h"
#include "proxy/admin/admin_server.h"
#include "proxy/control.h"
#include "proxy/log.h"
#include "proxy/snapshot.h"
#include "proxy/ws/simd_level.h"

namespace {

using namespace wsedge;

// Every session holds two descriptors: lift the soft limit to the hard one
// and, when allowed (root with CAP_SYS_RESOURCE), the hard one too, as
// HAProxy does: up to fs.nr_open, at most 1M.
void raiseFileLimit() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  const rlim_t want = 1 << 20;
  if (geteuid() == 0 && rl.rlim_max < want) {
    rlim_t nrOpen = want;
    if (FILE* f = std::fopen("/proc/sys/fs/nr_open", "r")) {
      unsigned long v = 0;
      if (std::fscanf(f, "%lu", &v) == 1) nrOpen = std::min<rlim_t>(want, v);
      std::fclose(f);
    }
    rlimit raised{nrOpen, nrOpen};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) return;
  }
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// systemd's Type=notify (a no-op when not run by systemd).
void notify(const char* state) {
  sd_notify(0, state);
}

// SIGHUP and POST /reload: systemd hears of it around the reload.
proxy::ReloadResult reloadNow(proxy::Control& control) {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  const std::string reloading = "RELOADING=1\nMONOTONIC_USEC=" +
                                std::to_string(static_cast<std::uint64_t>(now.tv_sec) * 1000000 +
                                               static_cast<std::uint64_t>(now.tv_nsec) / 1000);
  notify(reloading.c_str());
  proxy::ReloadResult r = control.reload();
  notify("READY=1");
  return r;
}

int serve(std::shared_ptr<const proxy::Snapshot> snapshot, unsigned workerCount) {
  // Signals are taken synchronously by the main thread alone: block them
  // before any worker starts so the workers inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGUSR1}) sigaddset(&signals, sig);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  const conf::Config& config = snapshot->config;
  std::vector<io::SocketAddress> addresses;
  for (const proxy::ListenerSnapshot& l : snapshot->listeners) addresses.push_back(l.address);
  std::optional<io::SocketAddress> adminAddress;
  if (config.admin) {
    std::string why;
    adminAddress = io::SocketAddress::resolve(config.admin->host, config.admin->port, &why);
    if (!adminAddress) {
      std::fprintf(stderr, "wsedge: cannot start: admin address %s: %s\n",
                   config.admin->address.c_str(), why.c_str());
      return 1;
    }
    addresses.push_back(*adminAddress);
  }
  for (const io::SocketAddress& a : addresses) {
    std::string error;
    if (!io::Loop::probeFree(a, &error)) {
      std::fprintf(stderr, "wsedge: cannot start: %s\n", error.c_str());
      return 1;
    }
  }
  std::unique_ptr<telemetry::AccessLog> accessLog;
  if (config.accessLog) {
    std::string error;
    accessLog = telemetry::AccessLog::open(config.accessLog->path, workerCount,
                                           config.accessLog->bufferBytes, &error);
    if (!accessLog) {
      std::fprintf(stderr, "wsedge: cannot start: %s\n", error.c_str());
      return 1;
    }
  }
  proxy::Control control(snapshot, workerCount, accessLog.get());
  std::string error;
  if (!control.start(&error)) {
    std::fprintf(stderr, "wsedge: cannot start: %s\n", error.c_str());
    return 1;
  }
  // The admin API, on its own thread and loop.
  proxy::AdminApi api(
      control, accessLog.get(), [&control] { return reloadNow(control); },
      config.admin ? config.admin->token : "");
  std::unique_ptr<io::Worker> admin;
  if (config.admin) {
    auto setup = [&api,
                  address = adminAddress](io::Loop& loop) -> std::shared_ptr<io::Worker::App> {
      log::setThreadName("admin");
      return std::make_shared<proxy::AdminServer>(loop, api, *address);
    };
    admin = std::make_unique<io::Worker>(-1, -1, io::Loop::Options{}, setup);
    try {
      admin->start();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "wsedge: cannot start: %s\n", e.what());
      return 1;
    }
  }

  std::string listening;
  for (const proxy::ListenerSnapshot& l : snapshot->listeners) listening += " " + l.name;
  WSEDGE_LOG(kInfo, "listening on%s with %u workers (SIMD: %s)%s%s", listening.c_str(), workerCount,
             std::string(ws::simdLevelName(ws::activeSimdLevel())).c_str(),
             config.admin ? ", admin on " : "", config.admin ? config.admin->address.c_str() : "");
  notify("READY=1");

  // The main thread waits for signals, and once a second lets the control
  // plane re-resolve names. SIGTERM drains (a second one, or SIGINT, stops
  // at once); the drain ends when every worker has closed its sessions, or
  // at drain_window + close_timeout.
  std::uint64_t drainDeadline = 0;
  for (;;) {
    const timespec wait{0, 200 * 1000 * 1000};
    const int sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig == SIGHUP) {
      WSEDGE_LOG(kInfo, "SIGHUP: reloading %s", config.file.c_str());
      reloadNow(control);
      continue;
    }
    if (sig == SIGUSR1) {
      if (accessLog) {
        WSEDGE_LOG(kInfo, "SIGUSR1: reopening the access log");
        accessLog->reopen();
      }
      continue;
    }
    if (sig == SIGINT || (sig == SIGTERM && control.draining())) {
      WSEDGE_LOG(kInfo, "%s: closing every connection now", sig == SIGINT ? "SIGINT" : "SIGTERM");
      break;
    }
    if (sig == SIGTERM) {
      notify("STOPPING=1");
      const conf::Limits limits = control.shutdown();
      WSEDGE_LOG(kInfo,
                 "SIGTERM: no more connections; closing the open ones over %llu ms "
                 "(SIGTERM again or SIGINT: at once)",
                 static_cast<unsigned long long>(limits.drainWindowMs));
      drainDeadline = io::monotonicMs() + limits.drainWindowMs + limits.closeTimeoutMs;
      continue;
    }
    if (drainDeadline != 0) {
      if (control.waitEnded(0)) break;
      if (io::monotonicMs() >= drainDeadline) {
        WSEDGE_LOG(kWarn, "the drain took longer than drain_window + close_timeout: closing now");
        break;
      }
      continue;
    }
    control.tick(io::monotonicMs());
  }
  notify("STOPPING=1");
  if (admin) {
    admin->stop();
    admin->join();
  }
  control.stop();
  if (accessLog) accessLog->flush();
  WSEDGE_LOG(kInfo, "stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"wsedge: a WebSocket edge proxy (io_uring workers, RFC 6455 checked both ways)"};
  std::string configPath;
  bool check = false;
  std::string level = "info";
  app.add_option("-c,--config", configPath, "configuration file (YAML)")->required();
  app.add_flag("--check", check, "validate the configuration, resolve its addresses, and exit");
  app.add_option("--log-level", level, "error, warn, info or debug")
      ->check(CLI::IsMember({"error", "warn", "info", "debug"}));
  app.set_version_flag("--version", "wsedge 0.1.0");
  CLI11_PARSE(app, argc, argv);
  log::setLevel(*log::parseLevel(level));
  // The runtime's notices go through the logger, which never blocks a worker.
  io::setNoticeSink([](const char* line) { log::write(log::Level::kWarn, "%s", line); });

  std::shared_ptr<const proxy::Snapshot> snapshot;
  std::vector<std::string> warnings;
  try {
    snapshot = proxy::buildSnapshot(conf::loadConfig(configPath), nullptr, &warnings);
  } catch (const conf::ConfigError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  for (const std::string& w : warnings) std::fprintf(stderr, "%s (warning)\n", w.c_str());
  const unsigned workers = snapshot->config.workers
                               ? *snapshot->config.workers
                               : static_cast<unsigned>(io::allowedCpus().size());
  if (check) {
    std::printf("configuration ok: %s (%zu listeners, %zu pools, %u workers)\n", configPath.c_str(),
                snapshot->listeners.size(), snapshot->pools.size(), workers);
    return 0;
  }
  raiseFileLimit();
  // Send-queue chunks of 64 KiB and up come straight from mmap, so their
  // memory goes back to the system as soon as a burst is over (a fixed
  // threshold also stops glibc raising it after the first free).
  mallopt(M_MMAP_THRESHOLD, 64 * 1024);
  const int rc = serve(snapshot, workers);
  log::flush();
  return rc;
}
