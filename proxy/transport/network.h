// What the proxy's legs need from the world besides their connections:
// outgoing connections, timers, and the worker's chunk pool. The loop
// implementation is below; tests bring an in-memory one.
#pragma once

#include "io/send_queue.h"
#include "io/socket_address.h"
#include "io/timer_wheel.h"
#include "proxy/transport/connection.h"

namespace wsedge::io {
class Loop;
}

namespace wsedge::transport {

class Network {
 public:
  /// Starts connecting; handler.onConnected() follows. On immediate failure
  /// returns null and sets *error (-errno, or io::Loop::kTableFull).
  virtual ConnectionPtr connect(const io::SocketAddress& to, Handler& handler, int* error) = 0;
  virtual io::TimerWheel& timers() = 0;
  virtual io::ChunkPool& chunks() = 0;

 protected:
  ~Network() = default;
};

/// Connections over one worker's io::Loop.
class LoopNetwork final : public Network {
 public:
  explicit LoopNetwork(io::Loop& loop) : loop_(loop) {}

  ConnectionPtr connect(const io::SocketAddress& to, Handler& handler, int* error) override;
  io::TimerWheel& timers() override;
  io::ChunkPool& chunks() override;

  /// An accepted socket, read from at once. Null when the loop's table is
  /// full; the caller still owns fd then.
  ConnectionPtr adopt(int fd);

 private:
  io::Loop& loop_;
};

}  // namespace wsedge::transport
