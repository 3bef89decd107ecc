#include "tests/support/fake_transport.h"

#include <sys/uio.h>

#include <stdexcept>

namespace wsedge::testing {

io::SocketAddress addressOf(const std::string& hostPort) {
  const std::size_t colon = hostPort.rfind(':');
  auto a = io::SocketAddress::parseNumeric(
      hostPort.substr(0, colon), static_cast<std::uint16_t>(std::stoi(hostPort.substr(colon + 1))));
  if (!a) throw std::invalid_argument("not an address: " + hostPort);
  return *a;
}

std::string FakePeer::take() {
  std::string out = std::move(received_);
  received_.clear();
  return out;
}

void FakePeer::take(io::SendQueue& out) {
  iovec iov[16];
  while (out.pending() > 0 && window_ > 0) {
    const std::size_t n = out.gather(iov, 16);
    std::size_t took = 0;
    for (std::size_t i = 0; i < n && window_ > 0; ++i) {
      const std::size_t len = std::min(iov[i].iov_len, window_);
      received_.append(static_cast<const char*>(iov[i].iov_base), len);
      window_ -= window_ == SIZE_MAX ? 0 : len;
      took += len;
      if (len < iov[i].iov_len) break;
    }
    out.consume(took);
  }
}

void FakePeer::send(std::string_view bytes, std::size_t piece) {
  if (piece == 0) piece = bytes.size();
  for (std::size_t at = 0; at < bytes.size() && connection_ && connection_->handler_; at += piece) {
    // A writable copy, as a receive buffer is.
    std::string chunk(bytes.substr(at, piece));
    // As the kernel counts a receive cap down.
    if (budget_ != SIZE_MAX) budget_ -= std::min(budget_, chunk.size());
    connection_->handler_->onData(std::as_writable_bytes(std::span(chunk.data(), chunk.size())));
  }
}

void FakePeer::accept(int error) {
  if (connection_ && connection_->handler_) connection_->handler_->onConnected(error);
}

void FakePeer::end(int error) {
  if (connection_ && connection_->handler_) connection_->handler_->onReadEnd(error);
}

void FakePeer::deliverFailure() {
  const int error = failure_;
  failure_ = 0;
  if (error != 0) end(error);
}

void FakePeer::setWindow(std::size_t bytes) {
  window_ = bytes;
  if (!connection_) return;
  FakeConnection& c = *connection_;
  take(c.out_);
  if (c.wantDrain_ && c.out_.pending() <= c.drainBelow_ && c.handler_) {
    c.wantDrain_ = false;
    c.handler_->onDrained();
  }
}

FakeConnection::FakeConnection(std::shared_ptr<FakePeer> peer, io::ChunkPool& pool)
    : peer_(std::move(peer)), out_(pool) {
  peer_->connection_ = this;
}

FakeConnection::~FakeConnection() {
  peer_->connection_ = nullptr;
}

void FakeConnection::flush() {
  peer_->take(out_);
}

void FakeConnection::close(bool graceful) {
  out_.rollback();
  if (graceful) flush();
  peer_->closed_ = true;
  peer_->graceful_ = graceful;
  delete this;
}

std::pair<transport::ConnectionPtr, std::shared_ptr<FakePeer>> FakeNetwork::accept(
    const std::string& from) {
  auto peer = std::make_shared<FakePeer>();
  peer->address_ = addressOf(from);
  return {transport::ConnectionPtr(new FakeConnection(peer, chunks_)), peer};
}

transport::ConnectionPtr FakeNetwork::connect(const io::SocketAddress& to,
                                              transport::Handler& handler, int* error) {
  if (connectError_ != 0) {
    *error = connectError_;
    return nullptr;
  }
  auto peer = std::make_shared<FakePeer>();
  peer->address_ = to;
  dials_.push_back(peer);
  transport::ConnectionPtr c(new FakeConnection(peer, chunks_));
  c->setHandler(handler);
  return c;
}

}  // namespace wsedge::testing
