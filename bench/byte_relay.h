// wsedge-bench relay: the floor. A TCP relay on the same io_uring runtime as
// the proxy (multishot recv from a provided-buffer ring, sends from the same
// send queues) that parses nothing: bytes in one side, out the other. What
// wsedge costs above this is the cost of understanding WebSocket.
#pragma once

#include <memory>
#include <vector>

#include "io/loop.h"
#include "io/worker.h"

namespace wsedge::bench {

class ByteRelay final : public io::Worker::App,
                        private io::AcceptHandler,
                        private io::StreamHandler {
 public:
  /// Throws if listen cannot be listened on.
  ByteRelay(io::Loop& loop, const io::SocketAddress& listen, const io::SocketAddress& target);
  ~ByteRelay() override;
  void stop() override;

 private:
  struct Pair;

  void onAccept(int listener, int fd) override;
  void onData(io::ConnId id, std::span<std::byte> data) override;
  void onReadEnd(io::ConnId id, int error) override;
  void onConnected(io::ConnId id, int error) override;
  void onDrained(io::ConnId id) override;
  void onClosed(io::ConnId id) override;

  Pair* find(io::ConnId id);
  void closePair(Pair& p);

  io::Loop& loop_;
  io::SocketAddress target_;
  std::vector<std::shared_ptr<Pair>> bySlot_;
  bool stopping_ = false;
};

}  // namespace wsedge::bench
