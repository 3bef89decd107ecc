#include "proxy/session/leg.h"

#include <algorithm>

namespace wsedge::proxy {

void Leg::attach(transport::ConnectionPtr connection, transport::Handler& handler) {
  conn_ = std::move(connection);
  pauses_ = 0;
  if (conn_) conn_->setHandler(handler);
}

void Leg::closeConnection(bool graceful) {
  transport::close(conn_, graceful);
}

transport::ConnectionPtr Leg::detach() {
  if (conn_) {
    if (pauses_ != 0) conn_->resumeRecv();
    conn_->limitRecv(transport::kNoLimit);
  }
  pauses_ = 0;
  return std::move(conn_);
}

void limitFlow(Leg& source, Leg& destination, std::size_t cap) {
  const std::size_t pending = destination.connection().pending();
  source.connection().limitRecv(cap - std::min(pending, cap));
  if (!source.paused(Leg::kBackpressure) && pending >= cap) {
    source.pause(Leg::kBackpressure);
    // Resume at half, not at once: no flapping at the threshold.
    destination.connection().notifyWhenDrained(cap / 2);
  }
}

void flowDrained(Leg& source, Leg& destination, std::size_t cap) {
  source.connection().limitRecv(cap - std::min(destination.connection().pending(), cap));
  source.resume(Leg::kBackpressure);
}

void Leg::send(std::span<const std::byte> data) {
  if (!conn_) return;
  io::SendQueue& out = conn_->output();
  out.write(data);
  out.commit();
  conn_->flush();
}

void Leg::pause(Pause why) {
  const bool was = pauses_ != 0;
  pauses_ |= why;
  if (!was && conn_) conn_->pauseRecv();
}

void Leg::resume(Pause why) {
  if (!(pauses_ & why)) return;
  pauses_ &= static_cast<std::uint8_t>(~why);
  if (pauses_ == 0 && conn_) conn_->resumeRecv();
}

}  // namespace wsedge::proxy
