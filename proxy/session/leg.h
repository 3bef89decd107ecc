// What the two legs of a session have in common: a connection held until
// the session ends, and reading paused for as long as any reason holds.
#pragma once

#include <cstdint>
#include <string_view>

#include "proxy/transport/connection.h"

namespace wsedge::proxy {

class Leg {
 public:
  /// Why reading from this leg's peer is paused; reading resumes once no
  /// reason is left.
  enum Pause : std::uint8_t {
    kBackpressure = 1,  // the other side's queue is full
    kEarly = 2,         // client bytes before the 101 reached their cap
    kRefused = 4,       // the upgrade was refused: nothing more is read
    kRate = 8,          // the client is over its message rate until tokens return
  };

  bool connected() const { return conn_ != nullptr; }
  transport::Connection& connection() { return *conn_; }
  const transport::Connection& connection() const { return *conn_; }
  /// Writes text, commits and flushes it.
  void send(std::string_view text);
  void pause(Pause why);
  void resume(Pause why);
  bool paused(Pause why) const { return (pauses_ & why) != 0; }
  /// Reading is paused for some reason.
  bool paused() const { return pauses_ != 0; }

 protected:
  Leg() = default;
  ~Leg() = default;
  void attach(transport::ConnectionPtr connection, transport::Handler& handler);
  void closeConnection(bool graceful);

 private:
  transport::ConnectionPtr conn_;
  std::uint8_t pauses_ = 0;
};

}  // namespace wsedge::proxy
