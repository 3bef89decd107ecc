// What the proxy keeps per worker: the generation it serves new sessions
// with, the listener sockets it has open, the mask-key source, and the list
// of live sessions. Nothing here is shared with other workers but the
// read-only snapshot and the per-backend state inside it.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/loop.h"
#include "io/worker.h"
#include "proxy/generation.h"
#include "proxy/pubsub/hub.h"
#include "proxy/pubsub/redis_link.h"
#include "proxy/session/context.h"
#include "proxy/session/outcome.h"
#include "proxy/session/tunnel.h"
#include "proxy/session/upstream_pool.h"
#include "proxy/telemetry/access_log.h"
#include "proxy/telemetry/metrics.h"
#include "proxy/ws/mask_key.h"

namespace wsedge::proxy {

class ProxyWorker final : public io::Worker::App,
                          private io::AcceptHandler,
                          private SessionOwner,
                          private io::TimerHandler {
 public:
  /// index: the worker's, for the access log (null: none).
  explicit ProxyWorker(io::Loop& loop, unsigned index = 0,
                       telemetry::AccessLog* accessLog = nullptr);
  ~ProxyWorker() override;
  ProxyWorker(const ProxyWorker&) = delete;
  ProxyWorker& operator=(const ProxyWorker&) = delete;

  /// Serves this snapshot from now on. New sessions use it; live ones keep
  /// the generation they were accepted with. A listener whose address is
  /// unchanged keeps its socket, a new one is opened, a removed one stops
  /// accepting (its sessions live on). If anything cannot be set up (a port
  /// is taken, say), nothing changes and *error says why.
  bool install(std::shared_ptr<const Snapshot> snapshot, std::string* error);

  /// Stops accepting and closes every session; the loop then runs dry.
  void stop() override;
  /// SIGTERM: stops accepting, and closes the open tunnels with 1001
  /// spread evenly over windowMs from now; whatever is left at the end of
  /// the window is closed then (stop()). The loop ends once all is closed.
  void shutdownOver(std::uint64_t windowMs);
  /// Closes the open tunnels to this backend with 1012 (service restart),
  /// spread evenly over windowMs from now. Returns how many.
  std::size_t drainBackend(const BackendState& backend, std::uint64_t windowMs);
  /// Takes back the drains of this backend's tunnels not yet closed.
  void undrainBackend(const BackendState& backend);

  std::size_t sessionCount() const { return sessions_; }
  /// Hands a published message to this worker's subscribers of the channel;
  /// how many.
  std::size_t publish(std::string_view channel, std::span<const std::byte> payload, bool binary);
  const Generation& generation() const { return *current_; }
  /// The loop's index of the socket listening on this address, or -1.
  int listenerSocket(const io::SocketAddress& address) const;
  /// Clients refused because the connection table was full.
  std::uint64_t tableFullRefusals() const { return tableFull_; }
  /// Sessions ended, by cause (send stalls among them).
  std::uint64_t sessionsEnded(Cause cause) const {
    return endings_[static_cast<std::size_t>(cause)];
  }
  /// Called as the worker goes, with its counters as they stand then: the
  /// last a scrape can ask of it.
  using Farewell =
      std::function<void(const telemetry::WorkerMetrics&, const telemetry::LoopCounters&)>;
  void setFarewell(Farewell farewell) { farewell_ = std::move(farewell); }
  /// This worker's counters (copied by a scrape, on this thread).
  const telemetry::WorkerMetrics& metrics() const { return metrics_; }
  telemetry::LoopCounters loopCounters() const;

 private:
  struct Bound {
    std::string address;  // SocketAddress::toString()
    int socket;           // the loop's listener index
  };

  void onAccept(int socket, int fd) override;
  void onTimer(io::Timer& timer) override;  // the end of a shutdown's window
  /// Drains the tunnels `pick` chooses, spread over windowMs; how many.
  template <class Pick>
  std::size_t spread(Pick&& pick, Tunnel::Drain why, std::uint64_t windowMs);
  void sessionEnded(Session& session, const SessionRecord& record) override;
  void requestServed(Session& session, const SessionRecord& record) override;
  std::shared_ptr<Generation> latest() const override { return current_; }
  std::uint64_t shutdownEndsMs() const override { return shutdownEndsMs_; }
  /// A client not served: 503 with why (over TLS, just a close).
  void refuse(std::size_t listener, int fd, std::string_view why);
  /// What an ended session (or a plain request served on a connection that
  /// stays, ended false) adds to the counters and the access log.
  void account(Session& session, const SessionRecord& record, bool ended);

  io::Loop& loop_;
  unsigned index_;
  telemetry::AccessLog* accessLog_;
  telemetry::WorkerMetrics metrics_;  // before the generations that point into it
  transport::LoopNetwork net_;
  ws::MaskKeySource masks_;
  UpstreamPool upstreams_;   // before the sessions that give connections back to it
  pubsub::Hub hub_;          // before the sessions subscribed to it
  pubsub::RedisLink redis_;  // hears the hub's channels come and go
  SessionContext ctx_;
  std::shared_ptr<Generation> current_;
  std::vector<Bound> bound_;
  std::vector<std::optional<std::size_t>> listenerOf_;  // by loop index: in current_'s snapshot
  Session* head_ = nullptr;
  std::size_t sessions_ = 0;
  std::uint64_t tableFull_ = 0;
  std::array<std::uint64_t, kCauseCount> endings_{};
  std::uint64_t refused_ = 0;
  std::uint64_t refusedLogged_ = 0;
  Farewell farewell_;
  bool stopping_ = false;
  bool shuttingDown_ = false;  // shutdownOver() is under way
  std::uint64_t shutdownEndsMs_ = 0;
  io::Timer shutdownTimer_;
};

}  // namespace wsedge::proxy
