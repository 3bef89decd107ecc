// One direction of a proxied WebSocket: parses every frame from the source
// (checking it against RFC 6455 and the limits) and writes it to the
// destination's send queue, re-masked toward a server, unmasked toward a
// client. Sans-IO: bytes in, queued bytes out.
//
// Frames up to kWholeFrameMax are forwarded whole: a frame that arrives in
// pieces is gathered, uncommitted, in the destination queue and released
// only when complete, so frame boundaries are kept and a source that fails
// halfway leaves nothing partial behind. Room is taken as the pieces arrive,
// never for the length a header merely announces. Larger frames are cut
// through: each piece that arrives goes out at once as a complete fragment
// (RFC 6455 §5.4 lets an intermediary refragment). Either way the destination only ever
// holds whole frames, so a close frame can always follow.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/send_queue.h"
#include "proxy/telemetry/metrics.h"
#include "proxy/ws/frame_parser.h"
#include "proxy/ws/mask_key.h"

namespace wsedge::proxy {

struct RelayResult {
  enum class Status : std::uint8_t {
    kOk,      // everything forwarded
    kClosed,  // the source sent a close frame; it was forwarded
    kError,   // the source broke the protocol; nothing more is read
    kHeld,    // a new message is over limitMessages(); input from `consumed` on is not read
  };
  Status status = Status::kOk;
  /// kClosed: the code forwarded (1005: none). kError: the code to send back.
  std::uint16_t code = 0;
  std::string_view reason;
  std::size_t consumed = 0;  // kHeld: bytes of the input read
};

/// Sees each message of one unmasked text frame (at most kWholeFrameMax)
/// before it is forwarded, and may keep it from the destination.
class MessageFilter {
 public:
  /// The first bytes of the payload (up to kPeek): worth a look?
  virtual bool wants(std::span<const std::byte> head) const = 0;
  /// The whole payload; true: it stops here.
  virtual bool consume(std::span<const std::byte> payload) = 0;
  static constexpr std::size_t kPeek = 32;

 protected:
  ~MessageFilter() = default;
};

/// The payload of the proxy's own pings: random, so that a peer's own
/// pongs are never taken for answers to ours.
using PingPayload = std::array<std::byte, 8>;

/// R is the proxy's role toward the source: kServer for frames from a
/// client (masked; re-masked toward the backend), kClient for frames from
/// a backend (unmasked, and forwarded unmasked).
template <ws::Role R>
class Relay {
 public:
  static constexpr bool kMaskOutput = R == ws::Role::kServer;
  static constexpr std::size_t kWholeFrameMax = 64 * 1024;
  /// A cut-through fragment carries at least this much (but the last).
  static constexpr std::size_t kMinCutPiece = 4096;

  Relay(const ws::FrameParserOptions& limits, ws::MaskKeySource& masks);

  /// Forwards what the bytes complete. `in` is unmasked in place.
  RelayResult feed(std::span<std::byte> in, io::SendQueue& out);

  /// Writes a close frame of the proxy's own (after dropping any frame still
  /// being gathered). Nothing is forwarded to `out` after it.
  void sendClose(io::SendQueue& out, std::uint16_t code, std::string_view reason);

  /// Counts messages, payload bytes and frames (by opcode) from the source
  /// into these counters too, from now on.
  void countInto(telemetry::RelayCounters& counters) { counters_ = &counters; }
  /// Single-frame text messages pass this filter first (null: none).
  void filterWith(MessageFilter* filter) { filter_ = filter; }
  /// Nothing of a message is out without its end: another message may go
  /// out between this one and the next.
  bool atMessageBoundary() const {
    return mode_ == Mode::kIdle && !parser_.inMessage() && !closeSent_;
  }

  /// Data messages from the source are started at most up to this count
  /// (see messagesStarted()); the next one is held (kHeld) until the limit
  /// is raised. No limit at first.
  void limitMessages(std::uint64_t started) { messageLimit_ = started; }
  std::uint64_t messagesStarted() const { return started_; }

  /// The proxy's own ping toward the destination. Written at once, or
  /// behind the frame being gathered.
  void sendPing(io::SendQueue& out, const PingPayload& payload);
  /// The ping waits behind the frame being gathered: it has not left yet.
  bool pingWaiting() const { return pingDue_; }
  /// A pong from the source with this payload answers the proxy's own ping:
  /// it is swallowed, not forwarded, and is not activity (framesCompleted).
  void expectPong(const PingPayload& payload);
  /// The pong expectPong() named has not come yet.
  bool pongAwaited() const { return pongExpected_; }

  /// A close frame went out this way (forwarded or our own).
  bool closeSent() const { return closeSent_; }
  /// The code of the close that went out this way (1005: none in it; 0: no close).
  std::uint16_t closeSentCode() const { return closeSent_ ? closeCode_ : 0; }
  /// The source's close, forwarded: its code (0: none came) and reason.
  std::uint16_t closeReceivedCode() const { return closeReceived_ ? closeCode_ : 0; }
  /// The reason of the close that went out (the source's, or our own).
  std::string_view closeReason() const { return closeReason_; }
  const ws::FrameParser<R>& parser() const { return parser_; }
  std::uint64_t messagesForwarded() const { return messages_; }
  /// Payload bytes of data frames forwarded.
  std::uint64_t bytesForwarded() const { return bytes_; }
  /// Frames (data or control) parsed to their end: activity, for the idle
  /// timeout (a frame dripped byte by byte is not activity until it ends).
  std::uint64_t framesCompleted() const { return frames_; }

 private:
  struct Sink;
  enum class Mode : std::uint8_t { kIdle, kWhole, kCut };

  ws::FrameHeader outputHeader(ws::Opcode op, bool fin, std::uint8_t rsv, std::uint64_t len);
  void writeControl(io::SendQueue& out, ws::Opcode op, std::span<const std::byte> payload);
  /// The whole frame gathered in `out` is a message the filter keeps.
  bool filtered(const io::SendQueue& out, const ws::FrameHeader& h);

  ws::FrameParser<R> parser_;
  ws::MaskKeySource* masks_;
  telemetry::RelayCounters* counters_ = nullptr;  // the worker's, for the route
  MessageFilter* filter_ = nullptr;
  Mode mode_ = Mode::kIdle;
  bool cutStarted_ = false;
  std::vector<std::byte> held_;  // cut through: small pieces not yet sent
  bool closeSent_ = false;
  bool closeReceived_ = false;
  ws::FrameHeader frame_;  // the frame being forwarded, as received
  ws::MaskKey key_{};      // the key of the frame being written (whole mode)
  std::uint64_t remaining_ = 0;
  std::uint64_t messages_ = 0;
  std::uint64_t bytes_ = 0;
  std::uint64_t frames_ = 0;
  std::uint64_t started_ = 0;  // data messages started
  std::uint64_t messageLimit_ = ~std::uint64_t{0};
  std::uint16_t closeCode_ = 0;  // of the close that went out, whoever wrote it
  bool pongExpected_ = false;
  bool pingDue_ = false;  // a ping waits for the frame being gathered
  PingPayload pong_{};
  PingPayload ping_{};
  // Only a close fills it (at the end of a session): nothing held while idle.
  std::string closeReason_;
};

extern template class Relay<ws::Role::kServer>;
extern template class Relay<ws::Role::kClient>;

using ClientToBackend = Relay<ws::Role::kServer>;
using BackendToClient = Relay<ws::Role::kClient>;

}  // namespace wsedge::proxy
