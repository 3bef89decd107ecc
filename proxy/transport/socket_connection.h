// A plain connection: one socket of an io::Loop.
#pragma once

#include "io/loop.h"
#include "proxy/transport/connection.h"

namespace wsedge::transport {

class SocketConnection final : public Connection, private io::StreamHandler {
 public:
  /// See LoopNetwork::adopt() and Network::connect().
  static ConnectionPtr adopt(io::Loop& loop, int fd);
  static ConnectionPtr connect(io::Loop& loop, const io::SocketAddress& to, int* error);

  void setHandler(Handler& handler) override { handler_ = &handler; }
  io::SendQueue& output() override { return loop_.output(id_); }
  void flush() override { loop_.flush(id_); }
  std::size_t pending() const override { return loop_.pending(id_); }
  std::uint64_t bytesSent() const override { return loop_.bytesSent(id_); }
  void notifyWhenDrained(std::size_t below) override { loop_.notifyWhenDrained(id_, below); }
  void pauseRecv() override { loop_.pauseRecv(id_); }
  void resumeRecv() override { loop_.resumeRecv(id_); }
  void limitRecv(std::size_t bytes) override { loop_.limitRecv(id_, bytes); }
  void failSoon(int error) override;
  void close(bool graceful) override;
  std::optional<io::SocketAddress> peerAddress() const override { return loop_.peerAddress(id_); }

 private:
  explicit SocketConnection(io::Loop& loop) : loop_(loop) {}
  ~SocketConnection() override = default;

  void onData(io::ConnId, std::span<std::byte> data) override;
  void onReadEnd(io::ConnId, int error) override;
  void onConnected(io::ConnId, int error) override;
  void onDrained(io::ConnId) override;
  void onClosed(io::ConnId) override;

  io::Loop& loop_;
  io::ConnId id_;
  Handler* handler_ = nullptr;
  bool closed_ = false;  // given up: no more callbacks, freed at onClosed
};

}  // namespace wsedge::transport
