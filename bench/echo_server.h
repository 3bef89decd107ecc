// wsedge-bench echo: a WebSocket echo backend on the same runtime as the
// proxy. It echoes every frame as it arrives (fragmentation kept, no
// buffering of whole messages), answers pings, completes close handshakes,
// and accepts the first subprotocol a client offers.
#pragma once

#include <memory>
#include <vector>

#include "io/loop.h"
#include "proxy/http/request_parser.h"
#include "proxy/ws/frame_parser.h"
#include "tls/server_context.h"
#include "tls/stream.h"

namespace wsedge::bench {

class EchoServer final : private io::AcceptHandler, private io::StreamHandler {
 public:
  /// certificates: serve wss:// with these (null: ws://).
  EchoServer(io::Loop& loop, const io::SocketAddress& address,
             std::shared_ptr<const tls::CertificateSet> certificates = nullptr);
  ~EchoServer();
  void stop();

 private:
  struct Conn;
  struct Sink;

  void onAccept(int listener, int fd) override;
  void onData(io::ConnId id, std::span<std::byte> data) override;
  void onReadEnd(io::ConnId id, int error) override;
  void onConnected(io::ConnId, int) override {}
  void onDrained(io::ConnId id) override;
  void onClosed(io::ConnId id) override;

  Conn* find(io::ConnId id);
  void upgrade(Conn& c, std::span<std::byte> data);
  void onPlaintext(Conn& c, std::span<std::byte> data);
  void writeControl(Conn& c, ws::Opcode op, std::span<const std::byte> payload);
  io::SendQueue& out(Conn& c);
  void flush(Conn& c);

  io::Loop& loop_;
  std::unique_ptr<tls::ServerContext> tls_;
  std::vector<std::unique_ptr<Conn>> bySlot_;
  bool stopping_ = false;
};

}  // namespace wsedge::bench
