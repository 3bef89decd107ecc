#include "proxy/session/leg.h"

namespace wsedge::proxy {

void Leg::attach(transport::ConnectionPtr connection, transport::Handler& handler) {
  conn_ = std::move(connection);
  pauses_ = 0;
  if (conn_) conn_->setHandler(handler);
}

void Leg::closeConnection(bool graceful) {
  transport::close(conn_, graceful);
}

void Leg::send(std::string_view text) {
  if (!conn_) return;
  io::SendQueue& out = conn_->output();
  out.write(std::as_bytes(std::span(text)));
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
