// What the two legs of a session have in common: a connection held until
// the session ends, and reading paused for as long as any reason holds.
#pragma once

#include <cstdint>
#include <span>
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
  /// Writes bytes (or text), commits and flushes them.
  void send(std::span<const std::byte> data);
  void send(std::string_view text) { send(std::as_bytes(std::span(text))); }
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
  /// Gives the connection up, reading resumed and uncapped (for reuse).
  transport::ConnectionPtr detach();

 private:
  transport::ConnectionPtr conn_;
  std::uint8_t pauses_ = 0;
};

/// Backpressure from destination's queue onto source's reading: source
/// reads no more than fits under cap, and pauses once the queue is full,
/// until it drains to half (then call flowDrained()).
void limitFlow(Leg& source, Leg& destination, std::size_t cap);
void flowDrained(Leg& source, Leg& destination, std::size_t cap);

}  // namespace wsedge::proxy
