// wsedge-bench: a WebSocket load generator that checks every byte, an echo
// backend, and a byte relay, all on wsedge's io_uring runtime.
//
//   wsedge-bench run --url ws://127.0.0.1:8080/ --conns 100 --size 1KiB --duration 10s
//   wsedge-bench echo --listen 127.0.0.1:9000
//   wsedge-bench relay --listen 127.0.0.1:8081 --to 127.0.0.1:9000
//   wsedge-bench push --url ws://127.0.0.1:8080/live/{channel} --subscribers 1000 \
//       --channels 10 --publish redis://127.0.0.1:6379/wsedge: --rate 1000
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "bench/byte_relay.h"
#include "bench/cpu_time.h"
#include "bench/echo_server.h"
#include "bench/load_client.h"
#include "bench/push_load.h"
#include "bench/report.h"
#include "conf/units.h"
#include "io/worker.h"
#include "tls/certificates.h"

namespace {

using namespace wsedge;
using namespace wsedge::bench;

volatile sig_atomic_t gStop = 0;
void onSignal(int) {
  gStop = 1;
}

[[noreturn]] void usage(const std::string& message) {
  std::fprintf(stderr, "wsedge-bench: %s\n", message.c_str());
  std::exit(2);
}

io::SocketAddress resolveOrDie(const std::string& text, std::uint16_t defaultPort = 0) {
  std::optional<conf::HostPort> hp = conf::parseHostPort(text);
  if (!hp && defaultPort) hp = conf::parseHostPort(text + ":" + std::to_string(defaultPort));
  if (!hp) usage("expected HOST:PORT, got '" + text + "'");
  std::string error;
  auto addr = io::SocketAddress::resolve(hp->host, hp->port, &error);
  if (!addr) usage(error);
  return *addr;
}

Target parseUrl(const std::string& url) {
  Target t;
  t.url = url;
  std::string rest;
  if (url.rfind("ws://", 0) == 0) {
    rest = url.substr(5);
  } else if (url.rfind("wss://", 0) == 0) {
    rest = url.substr(6);
    t.tls = true;
  } else {
    usage("--url must start with ws:// or wss://, got '" + url + "'");
  }
  const std::size_t slash = rest.find('/');
  t.hostHeader = rest.substr(0, slash);
  if (!t.hostHeader.empty() && t.hostHeader.front() == '[') {
    t.serverName = t.hostHeader.substr(1, t.hostHeader.find(']') - 1);
  } else {
    t.serverName = t.hostHeader.substr(0, t.hostHeader.rfind(':'));
  }
  t.path = slash == std::string::npos ? "/" : rest.substr(slash);
  if (t.hostHeader.empty()) usage("no host in --url '" + url + "'");
  t.address = resolveOrDie(t.hostHeader, t.tls ? 443 : 80);
  return t;
}

std::uint64_t durationNs(const std::string& text, const char* what) {
  auto ms = conf::parseDurationMs(text);
  if (!ms) usage(std::string(what) + ": '" + text + "' is not a duration (such as 10s, 500ms)");
  return *ms * 1'000'000;
}

std::vector<std::uint32_t> parseSizes(const std::string& spec, bool text) {
  std::vector<std::uint32_t> sizes;
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ':')) {
    auto n = conf::parseSize(item);
    if (!n || *n > (std::uint64_t{1} << 30))
      usage("--size: '" + item + "' is not a size up to 1GiB");
    if (*n < Payload::minSize(text)) {
      usage("--size " + item +
            " is too small: every message carries a sequence number and a checksum (" +
            std::to_string(Payload::minSize(text)) + " bytes" + (text ? " in --text mode" : "") +
            ")");
    }
    sizes.push_back(static_cast<std::uint32_t>(*n));
  }
  if (sizes.empty()) usage("--size is empty");
  return sizes;
}

void sleepUntil(std::uint64_t ns) {
  const std::uint64_t now = monotonicNs();
  if (ns > now) std::this_thread::sleep_for(std::chrono::nanoseconds(ns - now));
}

int run(RunConfig& config, bool json, const std::vector<int>& watchPids) {
  const std::uint64_t startNs = monotonicNs() + 50'000'000;
  std::vector<std::unique_ptr<Progress>> progress;
  std::vector<std::unique_ptr<io::Worker>> workers;
  io::Loop::Options options;
  options.tickMs = 10;
  options.recvBufferSize = 32768;
  options.recvBufferCount = 1024;
  for (std::uint32_t t = 0; t < config.threads; ++t) {
    progress.push_back(std::make_unique<Progress>());
    const std::uint32_t share =
        config.conns / config.threads + (t < config.conns % config.threads ? 1 : 0);
    Progress* pr = progress.back().get();
    auto setup = [&config, t, share, startNs,
                  pr](io::Loop& loop) -> std::shared_ptr<io::Worker::App> {
      auto client = std::make_shared<LoadClient>(loop, config, t, share, startNs, *pr);
      return client;
    };
    workers.push_back(std::make_unique<io::Worker>(static_cast<int>(t), -1, options, setup));
    workers.back()->start();
  }

  // Progress each second, and CPU readings at the edges of the window.
  const std::uint64_t windowStart = startNs + config.warmupNs;
  const std::uint64_t windowEnd = windowStart + config.durationNs;
  double cpuStart = 0, cpuEnd = 0, watchedStart = 0, watchedEnd = 0;
  bool startRead = false, endRead = false;
  std::uint64_t lastMessages = 0, lastBytes = 0, lastTick = startNs;
  bool stopping = false;
  for (;;) {
    bool all = true;
    for (auto& p : progress) all = all && p->finished.load();
    if (all) break;
    const std::uint64_t now = monotonicNs();
    std::uint64_t next = lastTick + 1'000'000'000;
    if (!startRead) next = std::min(next, windowStart);
    if (!endRead) next = std::min(next, windowEnd);
    sleepUntil(std::min(next, now + 100'000'000));
    const std::uint64_t t = monotonicNs();
    if (!startRead && t >= windowStart) {
      cpuStart = cpuSeconds();
      watchedStart = watchedCpu(watchPids);
      startRead = true;
    }
    if (!endRead && t >= windowEnd) {
      cpuEnd = cpuSeconds();
      watchedEnd = watchedCpu(watchPids);
      endRead = true;
    }
    if (gStop && !stopping) {
      stopping = true;
      for (auto& w : workers) w->stop();
    }
    if (t - lastTick >= 1'000'000'000) {
      std::uint64_t messages = 0, bytes = 0, errors = 0, handshakes = 0;
      Histogram latency;
      for (auto& p : progress) {
        messages += p->messages.load();
        bytes += p->bytes.load();
        errors += p->errors.load();
        handshakes += p->handshakes.load();
        std::lock_guard lock(p->mutex);
        latency.merge(p->latency);
      }
      const double interval = static_cast<double>(t - lastTick) / 1e9;
      const double elapsed = static_cast<double>(t - startNs) / 1e9;
      const std::uint64_t count = config.storm || config.tlsOnly ? handshakes : messages;
      if (config.idle) {
        std::fprintf(stderr, "%6.1fs  connections upgraded %llu  errors %llu\n", elapsed,
                     static_cast<unsigned long long>(handshakes),
                     static_cast<unsigned long long>(errors));
      } else {
        std::fprintf(stderr, "%s\n",
                     progressLine(elapsed, count - lastMessages, bytes - lastBytes, interval,
                                  latency.percentile(99), errors, config.storm || config.tlsOnly)
                         .c_str());
      }
      lastMessages = count;
      lastBytes = bytes;
      lastTick = t;
    }
  }
  for (auto& w : workers) w->join();
  const std::uint64_t finished = monotonicNs();
  if (!endRead) {  // stopped early
    cpuEnd = cpuSeconds();
    watchedEnd = watchedCpu(watchPids);
  }

  Summary s;
  s.config = &config;
  for (auto& p : progress) s.results.merge(p->results);
  const std::uint64_t measuredEnd = std::min(windowEnd, finished);
  s.seconds = measuredEnd > windowStart ? static_cast<double>(measuredEnd - windowStart) / 1e9 : 0;
  s.cpuSeconds = startRead ? cpuEnd - cpuStart : 0;
  s.watchedPids = watchPids;
  s.watchedCpuSeconds = startRead ? watchedEnd - watchedStart : 0;
  if (s.seconds <= 0) s.seconds = 1e-9;
  std::printf("%s\n", json ? jsonReport(s).c_str() : humanReport(s).c_str());
  const std::uint64_t done = config.idle ? (s.results.upgraded == config.conns ? 1 : 0)
                             : config.storm || config.tlsOnly ? s.results.handshakes
                                                              : s.results.messages;
  if (done == 0 && s.results.errors() == 0) {
    std::fprintf(stderr, "wsedge-bench: nothing was measured (is the window long enough?)\n");
    return 1;
  }
  return s.results.errors() == 0 && done > 0 ? 0 : 1;
}

template <class Server, class Make>
int serve(std::uint32_t threads, Make make) {
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGINT);
  sigaddset(&stopSignals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);
  const std::vector<int> cpus = io::allowedCpus();
  std::vector<std::unique_ptr<io::Worker>> workers;
  try {
    for (std::uint32_t t = 0; t < threads; ++t) {
      auto setup = [&make](io::Loop& loop) -> std::shared_ptr<io::Worker::App> {
        return make(loop);
      };
      io::Loop::Options options;
      options.recvBufferSize = 32768;
      workers.push_back(std::make_unique<io::Worker>(static_cast<int>(t), -1, options, setup));
      workers.back()->start();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wsedge-bench: %s\n", e.what());
    for (auto& w : workers) w->stop();
    return 1;
  }
  std::fprintf(stderr, "wsedge-bench: ready\n");
  int sig = 0;
  sigwait(&stopSignals, &sig);
  for (auto& w : workers) w->stop();
  for (auto& w : workers) w->join();
  return 0;
}

void raiseFileLimit() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"wsedge-bench: WebSocket load generator, echo backend and byte relay"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "wsedge-bench 0.1.0");

  RunConfig config;
  std::string url, size = "1024", duration = "10s", warmup = "2s";
  bool text = false, binary = false, json = false;
  std::string mode = "echo";
  std::vector<std::string> headers;
  std::vector<int> watchPids;
  CLI::App* runCmd = app.add_subcommand("run", "load a WebSocket server and check every echo");
  runCmd->add_option("--url", url, "ws://HOST:PORT/PATH or wss://...")->required();
  runCmd->add_option("--conns", config.conns, "connections")
      ->default_val(1)
      ->check(CLI::Range(1u, 1000000u));
  runCmd->add_option("--connect-rate", config.connectRate,
                     "open connections at this many per second (default: all at once)");
  runCmd
      ->add_option("--size", size,
                   "message size (64, 1KiB, 1MiB) or sizes chosen at random, 64:1024:16384")
      ->default_val("1024");
  runCmd->add_flag("--text", text, "send text messages (printable ASCII, validated as UTF-8)");
  runCmd->add_flag("--binary", binary, "send binary messages (the default)");
  auto* inflightOpt = runCmd
                          ->add_option("--inflight", config.inflight,
                                       "messages in flight per connection (closed loop)")
                          ->check(CLI::Range(1u, 100000u));
  auto* rateOpt =
      runCmd->add_option("--rate", config.rate,
                         "messages per second overall, sent at their scheduled times (open loop; "
                         "latency counts from the scheduled time)");
  std::uint32_t tickUs = 0;
  runCmd
      ->add_option(
          "--tick-us", tickUs,
          "open loop: send what is due only every N us, in one batch (fewer wake-ups, less CPU; "
          "latency still counts from each message's scheduled time). Default 0: wake for every "
          "send")
      ->check(CLI::Range(0u, 1000000u));
  runCmd->add_option("--duration", duration, "measured time")->default_val("10s");
  runCmd->add_option("--warmup", warmup, "time before measuring")->default_val("2s");
  runCmd->add_option("--threads", config.threads, "client threads")
      ->default_val(1)
      ->check(CLI::Range(1u, 256u));
  runCmd->add_flag("--insecure", config.insecure, "wss: do not verify the server's certificate");
  runCmd->add_option("--ca", config.caFile,
                     "wss: verify the server against this CA file (default: the system's)");
  runCmd->add_flag("--tls-resume", config.tlsResume,
                   "wss: offer the previous session again (resumed handshakes)");
  std::string tlsVersion;
  runCmd
      ->add_option("--tls-version", tlsVersion,
                   "wss: the highest version to offer, 1.2 or 1.3 (default 1.3)")
      ->check(CLI::IsMember({"1.2", "1.3"}));
  runCmd->add_option("--subprotocol", config.subprotocols, "offer this subprotocol (repeatable)");
  runCmd->add_option("--header", headers, "extra request header K:V (repeatable)");
  runCmd
      ->add_option("--mode", mode,
                   "echo: messages; storm: connect, handshake, close, repeat; idle: connect, "
                   "handshake and hold (for memory per connection); tls: connect, TLS handshake, "
                   "close, repeat (wss: handshakes alone)")
      ->check(CLI::IsMember({"echo", "storm", "idle", "tls"}));
  runCmd->add_flag("--json", json, "print one JSON object instead of the table");
  runCmd->add_option("--watch-pid", watchPids,
                     "also report this process's CPU per message (repeatable)");
  inflightOpt->excludes(rateOpt);

  std::string listen, to, tlsPair;
  std::uint32_t threads = 1;
  CLI::App* echoCmd = app.add_subcommand("echo", "a WebSocket echo backend");
  echoCmd->add_option("--listen", listen, "HOST:PORT")->required();
  echoCmd->add_option("--threads", threads, "worker threads")
      ->default_val(1)
      ->check(CLI::Range(1u, 256u));
  echoCmd->add_option("--tls", tlsPair, "CERT,KEY: serve wss");
  CLI::App* relayCmd =
      app.add_subcommand("relay", "a TCP byte relay that parses nothing (the floor)");
  relayCmd->add_option("--listen", listen, "HOST:PORT")->required();
  relayCmd->add_option("--to", to, "HOST:PORT of the backend")->required();
  relayCmd->add_option("--threads", threads, "worker threads")
      ->default_val(1)
      ->check(CLI::Range(1u, 256u));
  PushConfig push;
  std::string pushUrl, publishUrl, pushSize = "128", pushDuration = "10s", pushWarmup = "1s",
                                   settle = "1s", drain = "5s";
  bool allowLoss = false;
  CLI::App* pushCmd = app.add_subcommand(
      "push",
      "measure a push system: subscribers, a publisher at a fixed rate, every message checked");
  pushCmd
      ->add_option("--url", pushUrl,
                   "subscribers' ws:// or wss:// URL; {channel} in it is replaced by the channel "
                   "(ch0, ch1, ...), else the channel is appended as a path segment")
      ->required();
  pushCmd
      ->add_option("--publish", publishUrl,
                   "redis://HOST:PORT/PREFIX (PUBLISH PREFIX+channel) or http://HOST:PORT/PATH "
                   "(POST PATH/channel, or {channel} in PATH)")
      ->required();
  pushCmd->add_option("--subscribers", push.subscribers, "subscribers, spread over the channels")
      ->default_val(100)
      ->check(CLI::Range(1u, 1000000u));
  pushCmd->add_option("--channels", push.channels, "channels")
      ->default_val(1)
      ->check(CLI::Range(1u, 1000000u));
  pushCmd->add_option("--rate", push.rate, "publishes per second, over every channel")
      ->default_val(100)
      ->check(CLI::Range(0.1, 10'000'000.0));
  pushCmd->add_option("--size", pushSize, "message size")->default_val("128");
  pushCmd->add_option("--duration", pushDuration, "measured time")->default_val("10s");
  pushCmd->add_option("--warmup", pushWarmup, "publishing before the measured time")
      ->default_val("1s");
  pushCmd->add_option("--settle", settle, "wait this long after the last subscribe")
      ->default_val("1s");
  pushCmd->add_option("--drain", drain, "wait up to this long after the last publish")
      ->default_val("5s");
  pushCmd->add_option("--threads", push.threads, "subscriber threads")
      ->default_val(1)
      ->check(CLI::Range(1u, 256u));
  pushCmd->add_option("--publishers", push.publishers, "HTTP publishing connections")
      ->default_val(4)
      ->check(CLI::Range(1u, 1024u));
  pushCmd->add_flag("--allow-loss", allowLoss, "exit 0 even if messages were lost");
  pushCmd->add_flag("--json", json, "print one JSON object instead of the table");
  pushCmd->add_option("--watch-pid", watchPids,
                      "also report this process's CPU per delivery (repeatable)");
  pushCmd->add_flag("--insecure", push.insecure, "wss: do not verify the server's certificate");
  pushCmd->add_option("--ca", push.caFile, "wss: verify the server against this CA file");
  CLI11_PARSE(app, argc, argv);

  signal(SIGPIPE, SIG_IGN);
  raiseFileLimit();
  if (*echoCmd) {
    std::shared_ptr<const tls::CertificateSet> certs;
    if (!tlsPair.empty()) {
      const std::size_t comma = tlsPair.find(',');
      if (comma == std::string::npos) usage("--tls must be CERT,KEY");
      try {
        certs =
            tls::loadCertificates({{tlsPair.substr(0, comma), tlsPair.substr(comma + 1), "--tls"}});
      } catch (const tls::TlsConfigError& e) {
        usage(e.what());
      }
    }
    const io::SocketAddress addr = resolveOrDie(listen);
    return serve<EchoServer>(threads, [addr, certs](io::Loop& loop) {
      return std::make_shared<EchoServer>(loop, addr, certs);
    });
  }
  if (*relayCmd) {
    const io::SocketAddress from = resolveOrDie(listen), target = resolveOrDie(to);
    return serve<ByteRelay>(threads, [from, target](io::Loop& loop) {
      return std::make_shared<ByteRelay>(loop, from, target);
    });
  }

  if (*pushCmd) {
    push.target = parseUrl(pushUrl);
    const auto size = conf::parseSize(pushSize);
    if (!size || *size < kMinPushMessage || *size > (1u << 24)) {
      usage("--size must be a size from " + std::to_string(kMinPushMessage) +
            " bytes (each message carries its channel, sequence number and time) to 16MiB");
    }
    push.size = static_cast<std::uint32_t>(*size);
    push.durationNs = durationNs(pushDuration, "--duration");
    push.warmupNs = durationNs(pushWarmup, "--warmup");
    push.settleNs = durationNs(settle, "--settle");
    push.drainNs = durationNs(drain, "--drain");
    if (push.durationNs == 0) usage("--duration must be more than 0");
    std::string rest;
    if (publishUrl.rfind("redis://", 0) == 0) {
      push.via = PushConfig::Via::kRedis;
      rest = publishUrl.substr(8);
    } else if (publishUrl.rfind("http://", 0) == 0) {
      push.via = PushConfig::Via::kHttp;
      rest = publishUrl.substr(7);
    } else {
      usage("--publish must start with redis:// or http://, got '" + publishUrl + "'");
    }
    const std::size_t slash = rest.find('/');
    const std::string hostPort = rest.substr(0, slash);
    std::string path = slash == std::string::npos ? "" : rest.substr(slash);
    push.publishAddress = resolveOrDie(hostPort, push.via == PushConfig::Via::kRedis ? 6379 : 80);
    push.publishHost = hostPort;
    // Redis: what follows the slash is the channel prefix; HTTP: the path.
    push.publishPath = push.via == PushConfig::Via::kRedis ? (path.empty() ? "" : path.substr(1))
                                                           : (path.empty() ? "/" : path);
    return runPush(push, json, allowLoss, watchPids);
  }
  if (text && binary) usage("--text and --binary exclude each other");
  config.text = text;
  config.target = parseUrl(url);
  config.sizes = parseSizes(size, text);
  config.durationNs = durationNs(duration, "--duration");
  config.warmupNs = durationNs(warmup, "--warmup");
  if (config.durationNs == 0) usage("--duration must be more than 0");
  if (tickUs && config.rate == 0) usage("--tick-us applies to the open loop: give --rate too");
  config.tickNs = std::uint64_t{tickUs} * 1000;
  config.storm = mode == "storm";
  config.idle = mode == "idle";
  config.tlsOnly = mode == "tls";
  if (config.tlsOnly && !config.target.tls) usage("--mode tls needs a wss:// URL");
  if (tlsVersion == "1.2") config.tlsMaxVersion = TLS1_2_VERSION;
  for (const std::string& h : headers) {
    const std::size_t colon = h.find(':');
    if (colon == std::string::npos || colon == 0)
      usage("--header must be NAME:VALUE, got '" + h + "'");
    config.extraFields += h.substr(0, colon) + ": " + h.substr(colon + 1) + "\r\n";
  }
  struct sigaction sa {};
  sa.sa_handler = onSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  return run(config, json, watchPids);
}
