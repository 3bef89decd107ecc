#include "proxy/transport/socket_connection.h"

#include "proxy/transport/network.h"

namespace wsedge::transport {

ConnectionPtr SocketConnection::adopt(io::Loop& loop, int fd) {
  ConnectionPtr c(new SocketConnection(loop));
  auto* self = static_cast<SocketConnection*>(c.get());
  self->id_ = loop.adopt(fd, *self);
  if (!self->id_) {
    // Nothing reached the loop: free it here rather than through close().
    delete static_cast<SocketConnection*>(c.release());
  }
  return c;
}

ConnectionPtr SocketConnection::connect(io::Loop& loop, const io::SocketAddress& to, int* error) {
  ConnectionPtr c(new SocketConnection(loop));
  auto* self = static_cast<SocketConnection*>(c.get());
  self->id_ = loop.connect(to, *self, error);
  if (!self->id_) delete static_cast<SocketConnection*>(c.release());
  return c;
}

void SocketConnection::failSoon(int error) {
  // The connection may be closed, even freed, before this runs: it is
  // found again by its id, which a closed connection no longer answers to.
  io::Loop* loop = &loop_;
  loop_.post([loop, id = id_, self = this, error] {
    if (loop->alive(id) && !self->closed_ && self->handler_) self->handler_->onReadEnd(error);
  });
}

void SocketConnection::close(bool graceful) {
  if (closed_) return;
  closed_ = true;
  loop_.close(id_, graceful);  // onClosed follows, from the loop
}

void SocketConnection::onData(io::ConnId, std::span<std::byte> data) {
  if (!closed_ && handler_) handler_->onData(data);
}

void SocketConnection::onReadEnd(io::ConnId, int error) {
  if (!closed_ && handler_) handler_->onReadEnd(error);
}

void SocketConnection::onConnected(io::ConnId, int error) {
  if (!closed_ && handler_) handler_->onConnected(error);
}

void SocketConnection::onDrained(io::ConnId) {
  if (!closed_ && handler_) handler_->onDrained();
}

void SocketConnection::onClosed(io::ConnId) {
  // The loop closes a socket only when asked to, so closed_ is set here.
  delete this;
}

ConnectionPtr LoopNetwork::connect(const io::SocketAddress& to, Handler& handler, int* error) {
  ConnectionPtr c = SocketConnection::connect(loop_, to, error);
  if (c) c->setHandler(handler);
  return c;
}

io::TimerWheel& LoopNetwork::timers() {
  return loop_.timers();
}
io::ChunkPool& LoopNetwork::chunks() {
  return loop_.chunkPool();
}
ConnectionPtr LoopNetwork::adopt(int fd) {
  return SocketConnection::adopt(loop_, fd);
}

}  // namespace wsedge::transport
