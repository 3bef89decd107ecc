// What the proxy keeps per worker: its listeners, a balancer per pool, the
// mask-key source, and the list of live sessions. Nothing here is shared
// with other workers except the read-only Runtime.
#pragma once

#include <memory>
#include <vector>

#include "io/loop.h"
#include "proxy/balance/balancer.h"
#include "proxy/runtime.h"
#include "proxy/ws/mask_key.h"
#include "tls/server_context.h"

namespace wsedge::proxy {

class Session;

class ProxyWorker final : public io::AcceptHandler {
 public:
  ProxyWorker(io::Loop& loop, std::shared_ptr<const Runtime> runtime);
  ~ProxyWorker();
  ProxyWorker(const ProxyWorker&) = delete;
  ProxyWorker& operator=(const ProxyWorker&) = delete;

  /// Opens every listener of the runtime (throws naming the address).
  void start();
  /// Stops accepting and closes every session; the loop then runs dry.
  void stop();

  io::Loop& loop() { return loop_; }
  const Runtime& runtime() const { return *runtime_; }
  Balancer& balancer(std::size_t pool) { return *balancers_[pool]; }
  ws::MaskKeySource& masks() { return masks_; }
  std::size_t sessionCount() const { return sessions_; }

  /// Called by a session whose connections are all closed: deletes it.
  void sessionEnded(Session* session);

 private:
  void onAccept(int listener, int fd) override;

  io::Loop& loop_;
  std::shared_ptr<const Runtime> runtime_;
  std::vector<std::unique_ptr<Balancer>> balancers_;
  std::vector<const ListenerRuntime*> listeners_;         // by loop listener index
  std::vector<std::unique_ptr<tls::ServerContext>> tls_;  // by loop listener index; null: ws://
  ws::MaskKeySource masks_;
  Session* head_ = nullptr;
  std::size_t sessions_ = 0;
  bool stopping_ = false;
};

}  // namespace wsedge::proxy
