// wsedge: the WebSocket edge proxy.
//
//   wsedge -c wsedge.yaml            serve
//   wsedge -c wsedge.yaml --check    validate the configuration and exit
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <vector>

#include "conf/loader.h"
#include "io/loop.h"
#include "io/notice.h"
#include "io/worker.h"
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

int serve(std::shared_ptr<const proxy::Snapshot> snapshot, unsigned workerCount) {
  // Signals are taken synchronously by the main thread alone: block them
  // before any worker starts so the workers inherit the mask.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGINT);
  sigaddset(&stopSignals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  for (const proxy::ListenerSnapshot& l : snapshot->listeners) {
    std::string error;
    if (!io::Loop::probeFree(l.address, &error)) {
      std::fprintf(stderr, "wsedge: cannot start: %s\n", error.c_str());
      return 1;
    }
  }
  proxy::Control control(snapshot, workerCount);
  std::string error;
  if (!control.start(&error)) {
    std::fprintf(stderr, "wsedge: cannot start: %s\n", error.c_str());
    return 1;
  }

  std::string listening;
  for (const proxy::ListenerSnapshot& l : snapshot->listeners) listening += " " + l.name;
  WSEDGE_LOG(kInfo, "listening on%s with %u workers (SIMD: %s)", listening.c_str(), workerCount,
             std::string(ws::simdLevelName(ws::activeSimdLevel())).c_str());

  // The main thread waits for signals, and once a second lets the control
  // plane re-resolve names.
  for (;;) {
    const timespec second{1, 0};
    const int sig = sigtimedwait(&stopSignals, nullptr, &second);
    if (sig == SIGINT || sig == SIGTERM) {
      WSEDGE_LOG(kInfo, "%s: closing every connection and stopping",
                 sig == SIGINT ? "SIGINT" : "SIGTERM");
      break;
    }
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    control.tick(static_cast<std::uint64_t>(now.tv_sec) * 1000 +
                 static_cast<std::uint64_t>(now.tv_nsec) / 1000000);
  }
  control.stop();
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
