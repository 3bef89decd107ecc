// The client side of wsedge-bench: one LoadClient per thread, each owning its
// share of the connections on its own io::Loop.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "bench/histogram.h"
#include "bench/payload.h"
#include "io/loop.h"
#include "io/worker.h"
#include "proxy/http/response_parser.h"
#include "proxy/transport/network.h"
#include "proxy/ws/frame_parser.h"
#include "proxy/ws/mask_key.h"
#include "tls/server_context.h"

namespace wsedge::bench {

struct Target {
  std::string url;
  bool tls = false;
  std::string hostHeader;  // host[:port] as in the URL
  std::string serverName;  // the host alone: SNI and certificate name
  std::string path = "/";
  io::SocketAddress address;
};

struct RunConfig {
  Target target;
  std::uint32_t conns = 1;
  double connectRate = 0;  // new connections per second, all threads together; 0: at once
  std::vector<std::uint32_t> sizes{1024};
  bool text = false;
  std::uint32_t inflight = 1;
  double rate = 0;  // messages per second, all threads together; 0: closed loop
  std::uint64_t tickNs =
      0;  // open loop: wake only on this grid to send what is due (0: at each send's time)
  std::uint64_t warmupNs = 2'000'000'000;
  std::uint64_t durationNs = 10'000'000'000;
  std::uint32_t threads = 1;
  bool storm = false;    // connect, handshake, close, repeat
  bool idle = false;     // connect, handshake, then hold the connection without messages
  bool tlsOnly = false;  // connect, TLS handshake, close, repeat: handshakes alone
  std::vector<std::string> subprotocols;
  std::string extraFields;  // "Name: value\r\n" lines
  // wss://
  bool insecure = false;            // do not verify the server's certificate
  std::string caFile;               // verify against this CA file (default: the system's)
  bool tlsResume = false;           // offer the last session again (storm: resumed handshakes)
  std::uint16_t tlsMaxVersion = 0;  // cap the version offered (0: TLS 1.3)
};

/// Everything one thread measured; merged across threads at the end.
struct RunResults {
  Histogram latency;             // message round trip, in ns, from the intended send time
  Histogram connect;             // TCP connect
  Histogram tls;                 // TLS handshake
  Histogram handshake;           // WebSocket upgrade
  std::uint64_t messages = 0;    // echoes received in the measured window
  std::uint64_t bytes = 0;       // their payload bytes
  std::uint64_t handshakes = 0;  // storm: upgrades completed in the window
  std::uint64_t upgraded = 0;    // connections that completed the upgrade
  std::uint64_t sent = 0;
  std::uint64_t mismatches = 0;
  std::uint64_t reorders = 0;
  std::uint64_t connectFailures = 0;
  std::uint64_t handshakeFailures = 0;
  std::uint64_t unexpectedCloses = 0;
  std::uint64_t protocolErrors = 0;
  std::uint64_t missedSends = 0;  // open loop: no connection was ready for a slot
  std::uint64_t tlsResumed = 0;   // TLS handshakes that resumed a session
  std::string tlsVersion;         // as negotiated, e.g. "TLSv1.3"
  std::string tlsCipher;
  std::map<std::uint16_t, std::uint64_t> closeCodes;  // of the unexpected closes
  std::vector<std::string> errorSamples;              // the first few, for the report

  void merge(const RunResults& o);
  std::uint64_t errors() const {
    return mismatches + reorders + connectFailures + handshakeFailures + unexpectedCloses +
           protocolErrors;
  }
  void noteError(std::string message);
};

/// Progress a thread publishes for the once-a-second line.
struct Progress {
  std::atomic<std::uint64_t> messages{0};  // all echoes so far, warm-up included
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> handshakes{0};
  std::atomic<bool> finished{false};
  std::mutex mutex;
  Histogram latency;   // copy of the thread's latency histogram, refreshed each second
  RunResults results;  // everything, once finished
};

class LoadClient final : public io::Worker::App {
 public:
  LoadClient(io::Loop& loop, const RunConfig& config, std::uint32_t index, std::uint32_t conns,
             std::uint64_t startNs, Progress& progress);
  ~LoadClient() override;

  /// Stops early (from the loop thread): the window ends now.
  void stop() override;
  RunResults& results() { return results_; }

 private:
  struct Outstanding {
    std::uint64_t seq;
    std::uint64_t intendedNs;
    std::uint32_t size;
  };
  struct Conn;
  struct Sink;

  std::uint64_t iterate();  // the loop's iteration hook
  void openConnection(std::uint32_t index);
  void onConnected(Conn& c, int error);
  void onSecured(Conn& c);
  void onData(Conn& c, std::span<std::byte> data);
  void onReadEnd(Conn& c, int error);
  /// Lets go of c's connection; in a storm, the next one starts.
  void closeConn(Conn& c, bool graceful);
  void sendUpgrade(Conn& c);
  void sendMessage(Conn& c, std::uint64_t intendedNs);
  void sendControl(Conn& c, ws::Opcode op, std::span<const std::byte> payload);
  void beginClose(Conn& c, std::uint16_t code);
  void fail(Conn& c, std::uint16_t closeCode);
  /// --mode tls --tls-resume: closes those whose ticket has come.
  void closeTicketed();
  bool inWindow(std::uint64_t ns) const { return ns >= windowStart_ && ns < windowEnd_; }

  io::Loop& loop_;
  transport::LoopNetwork net_;
  const RunConfig& config_;
  Progress& progress_;
  Payload payload_;
  ws::MaskKeySource masks_;
  bssl::UniquePtr<SSL_CTX> tlsContext_;  // wss:// only; keeps the newest session for --tls-resume
  std::mt19937 rng_;
  std::vector<std::unique_ptr<Conn>> conns_;
  RunResults results_;
  std::uint64_t startNs_;
  std::uint64_t windowStart_;
  std::uint64_t windowEnd_;
  std::uint64_t drainEnd_;
  std::uint64_t connectInterval_;  // ns between new connections (0: at once)
  std::uint32_t opened_ = 0;
  std::uint64_t sendInterval_ = 0;  // open loop: ns between sends on this thread
  std::uint64_t nextSend_ = 0;
  std::size_t rr_ = 0;
  std::uint64_t lastPublish_ = 0;
  std::uint32_t live_ = 0;
  bool ending_ = false;
};

std::uint64_t monotonicNs();

}  // namespace wsedge::bench
