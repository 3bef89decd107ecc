// wsedge-bench echo: a WebSocket echo backend on the same runtime as the
// proxy. It echoes every frame as it arrives (fragmentation kept, no
// buffering of whole messages), answers pings, completes close handshakes,
// and accepts the first subprotocol a client offers.
#pragma once

#include <memory>

#include "io/loop.h"
#include "io/worker.h"
#include "proxy/transport/network.h"
#include "tls/server_context.h"

namespace wsedge::bench {

class EchoServer final : public io::Worker::App, private io::AcceptHandler {
 public:
  /// certificates: serve wss:// with these (null: ws://). Throws if the
  /// address cannot be listened on.
  EchoServer(io::Loop& loop, const io::SocketAddress& address,
             std::shared_ptr<const tls::CertificateSet> certificates = nullptr);
  ~EchoServer() override;
  void stop() override;

 private:
  class Conn;

  void onAccept(int listener, int fd) override;
  void closed(Conn& c);

  io::Loop& loop_;
  transport::LoopNetwork net_;
  std::unique_ptr<tls::ServerContext> tls_;
  Conn* head_ = nullptr;  // live connections
  bool stopping_ = false;
};

}  // namespace wsedge::bench
