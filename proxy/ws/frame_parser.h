// Incremental frame parser (RFC 6455 §5) for either role. It accepts input
// split anywhere, down to one byte at a time, and reports through a sink
// chosen at compile time:
//
//   void onFrameStart(const FrameHeader&);           // text, binary, continuation
//   void onPayload(std::span<std::byte> data);       // unmasked (unless options.unmask is
//                                                    // off), in pieces, no copy
//   void onFrameEnd(const FrameHeader&);
//   void onControl(Opcode op, std::span<const std::byte> payload);  // ping, pong: whole
//   void onClose(std::uint16_t code, std::string_view reason);      // 1005 if empty
//
// A sink may also have `bool admit(const FrameHeader&)`, asked before the
// first frame of each data message: false holds that message back (feed()
// returns kHeld, its header consumed) until a later feed() admits it.
//
// Data payloads are unmasked in place in the caller's buffer and handed over
// without copying. Control payloads (at most 125 bytes) arrive whole: also
// unmasked in place when one read holds all of one, else gathered in a
// buffer the parser holds only until the frame ends. Either way they are
// valid only during the call. A protocol violation stops the parser with a
// close code; no allocation ever depends on a length the peer sent.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

#include "proxy/ws/close_code.h"
#include "proxy/ws/frame.h"
#include "proxy/ws/unmask.h"
#include "proxy/ws/utf8.h"

namespace wsedge::ws {

/// How a parser reads frames. The limits default to none: the product's
/// defaults live in its configuration (conf::Limits), written once.
struct FrameParserOptions {
  std::uint64_t maxFrameSize = ~std::uint64_t{0};
  std::uint64_t maxMessageSize = ~std::uint64_t{0};
  std::uint32_t maxFragments = ~std::uint32_t{0};  // frames in one message
  bool validateUtf8 = true;
  /// RSV bits a negotiated extension defines: kRsv1 with permessage-deflate.
  std::uint8_t allowedRsv = 0;
  /// Deliver data payloads unmasked (in place). A relay that re-masks can
  /// turn this off and change keys in one pass; text is still validated,
  /// block by block through a small scratch buffer.
  bool unmask = true;
};

struct FrameError {
  CloseCode code = CloseCode::kNormal;
  std::string_view reason;
};

enum class ParseStatus : std::uint8_t {
  kOk,      // all input consumed; more may follow
  kError,   // protocol violation: see error(); the parser accepts nothing more
  kClosed,  // a valid close frame was parsed; input after it is not consumed
  kHeld,    // the sink did not admit a new message; input after its header is not consumed
};

template <Role R>
class FrameParser {
 public:
  using Options = FrameParserOptions;

  explicit FrameParser(Options options = {}) : limits_(options) {}

  /// Parses as much of in as it can. *consumed (if given) receives the
  /// number of bytes used: all of them unless the result is kError, kClosed
  /// or kHeld. After kHeld, feed() asks the sink again first, even with no input.
  template <class Sink>
  ParseStatus feed(std::span<std::byte> in, Sink& sink, std::size_t* consumed = nullptr);

  const FrameError& error() const { return error_; }
  /// A fragmented message has started and not finished.
  bool inMessage() const { return inMessage_; }
  /// In the middle of a frame (header or payload partly read).
  bool midFrame() const { return stage_ != Stage::kHeader || headerHave_ != 0; }
  const Options& options() const { return limits_; }
  /// Back to the start state, for a new connection.
  void reset() { *this = FrameParser(limits_); }
  void setOptions(const Options& options) { limits_ = options; }

 private:
  // kHeld: a data frame's header is read, and the sink has not admitted it.
  enum class Stage : std::uint8_t { kHeader, kHeld, kPayload, kControl, kClosed, kFailed };

  ParseStatus fail(CloseCode code, std::string_view reason) {
    error_ = {code, reason};
    stage_ = Stage::kFailed;
    return ParseStatus::kError;
  }

  // Checks what the first two bytes alone can rule out.
  ParseStatus checkFirstTwo(std::uint8_t b0, std::uint8_t b1);
  // Header bytes needed in all, known once the first two are in.
  static std::size_t headerLength(std::uint8_t b1) {
    const std::uint8_t len7 = b1 & 0x7F;
    return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((b1 & 0x80) ? 4 : 0);
  }
  ParseStatus decodeHeader(const std::uint8_t* h);
  template <class Sink>
  ParseStatus startFrame(Sink& sink);
  template <class Sink>
  ParseStatus payload(std::span<std::byte> chunk, Sink& sink);
  template <class Sink>
  ParseStatus finishControl(Sink& sink, std::span<const std::byte> body);

  Options limits_;
  FrameError error_;
  Stage stage_ = Stage::kHeader;
  std::uint8_t headerHave_ = 0;
  std::uint8_t controlHave_ = 0;
  bool inMessage_ = false;
  bool validating_ = false;  // current message is text, uncompressed, and checked
  FrameHeader frame_;
  std::uint64_t remaining_ = 0;
  std::size_t maskOffset_ = 0;
  std::uint64_t messageSize_ = 0;
  std::uint32_t fragments_ = 0;  // continuation frames of the open message
  Utf8Validator utf8_;
  std::uint8_t header_[kMaxFrameHeaderSize];
  // A control payload that a read cut in two, gathered: allocated only
  // then, and freed once the frame is out, so an idle parser holds none.
  // A whole one is unmasked where it arrived.
  std::unique_ptr<std::byte[]> control_;
};

template <Role R>
ParseStatus FrameParser<R>::checkFirstTwo(std::uint8_t b0, std::uint8_t b1) {
  const std::uint8_t rsv = b0 & 0x70;
  const std::uint8_t op = b0 & 0x0F;
  const bool fin = (b0 & 0x80) != 0;
  const bool masked = (b1 & 0x80) != 0;
  if (!isKnownOpcode(op)) return fail(CloseCode::kProtocolError, "reserved opcode");
  if (rsv & ~limits_.allowedRsv) return fail(CloseCode::kProtocolError, "reserved bits set");
  const auto opcode = static_cast<Opcode>(op);
  if (isControl(opcode)) {
    if (!fin) return fail(CloseCode::kProtocolError, "fragmented control frame");
    if ((b1 & 0x7F) > kMaxControlPayload) {
      return fail(CloseCode::kProtocolError, "control frame payload over 125 bytes");
    }
    if (rsv != 0) return fail(CloseCode::kProtocolError, "RSV1 on a control frame");
  } else if (opcode == Opcode::kContinuation) {
    if (!inMessage_) return fail(CloseCode::kProtocolError, "continuation with no message open");
    if (rsv != 0) return fail(CloseCode::kProtocolError, "RSV1 on a continuation frame");
  } else if (inMessage_) {
    return fail(CloseCode::kProtocolError, "new data frame inside a fragmented message");
  }
  if constexpr (R == Role::kServer) {
    if (!masked) return fail(CloseCode::kProtocolError, "unmasked client frame");
  } else {
    if (masked) return fail(CloseCode::kProtocolError, "masked server frame");
  }
  return ParseStatus::kOk;
}

template <Role R>
ParseStatus FrameParser<R>::decodeHeader(const std::uint8_t* h) {
  frame_.fin = (h[0] & 0x80) != 0;
  frame_.rsv = h[0] & 0x70;
  frame_.opcode = static_cast<Opcode>(h[0] & 0x0F);
  frame_.masked = (h[1] & 0x80) != 0;
  const std::uint8_t len7 = h[1] & 0x7F;
  std::size_t pos = 2;
  if (len7 == 126) {
    frame_.length = (std::uint64_t{h[2]} << 8) | h[3];
    pos = 4;
    if (frame_.length < 126) return fail(CloseCode::kProtocolError, "length not minimally encoded");
  } else if (len7 == 127) {
    std::uint64_t len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | h[2 + i];
    pos = 10;
    if (len >> 63) return fail(CloseCode::kProtocolError, "64-bit length with the top bit set");
    if (len <= 0xFFFF) return fail(CloseCode::kProtocolError, "length not minimally encoded");
    frame_.length = len;
  } else {
    frame_.length = len7;
  }
  if (frame_.masked) std::memcpy(frame_.mask.data(), h + pos, 4);
  if (frame_.length > limits_.maxFrameSize) {
    return fail(CloseCode::kMessageTooBig, "frame over the size limit");
  }
  if (!isControl(frame_.opcode)) {
    // messageSize_ <= maxMessageSize always holds, so this cannot overflow.
    const std::uint64_t base = frame_.opcode == Opcode::kContinuation ? messageSize_ : 0;
    if (frame_.length > limits_.maxMessageSize - std::min(base, limits_.maxMessageSize)) {
      return fail(CloseCode::kMessageTooBig, "message over the size limit");
    }
  }
  return ParseStatus::kOk;
}

template <Role R>
template <class Sink>
ParseStatus FrameParser<R>::startFrame(Sink& sink) {
  remaining_ = frame_.length;
  maskOffset_ = 0;
  if (isControl(frame_.opcode)) {
    controlHave_ = 0;
    stage_ = Stage::kControl;
    return remaining_ == 0 ? finishControl(sink, {}) : ParseStatus::kOk;
  }
  if constexpr (requires { sink.admit(frame_); }) {
    if (frame_.opcode != Opcode::kContinuation && !sink.admit(frame_)) {
      stage_ = Stage::kHeld;
      return ParseStatus::kHeld;
    }
  }
  if (frame_.opcode == Opcode::kContinuation) {
    // Counted so that a message cannot be sent as endless tiny frames.
    if (++fragments_ >= limits_.maxFragments) {
      return fail(CloseCode::kMessageTooBig, "too many fragments in one message");
    }
  } else {
    inMessage_ = true;
    messageSize_ = 0;
    fragments_ = 0;
    // A compressed (RSV1) message is not UTF-8 on the wire; it cannot be
    // checked without inflating it.
    validating_ =
        limits_.validateUtf8 && frame_.opcode == Opcode::kText && (frame_.rsv & kRsv1) == 0;
  }
  messageSize_ += frame_.length;
  sink.onFrameStart(frame_);
  stage_ = Stage::kPayload;
  if (remaining_ == 0) return payload({}, sink);
  return ParseStatus::kOk;
}

template <Role R>
template <class Sink>
ParseStatus FrameParser<R>::payload(std::span<std::byte> chunk, Sink& sink) {
  const bool plain = !frame_.masked || limits_.unmask;
  if (frame_.masked && limits_.unmask) maskOffset_ = applyMask(chunk, frame_.mask, maskOffset_);
  remaining_ -= chunk.size();
  const bool messageEnds = remaining_ == 0 && frame_.fin;
  if (validating_) {
    // Check before handing the bytes on: invalid text is never delivered.
    bool ok = true;
    if (plain) {
      ok = utf8_.feed(chunk);
    } else {
      // Unmask into a cache-resident scratch block only to validate it.
      std::byte scratch[4096];
      for (std::size_t off = 0; ok && off < chunk.size(); off += sizeof scratch) {
        const auto block = chunk.subspan(off, std::min(sizeof scratch, chunk.size() - off));
        applyMaskCopy(scratch, block, frame_.mask, maskOffset_ + off);
        ok = utf8_.feed({scratch, block.size()});
      }
    }
    if (!ok || (messageEnds && !utf8_.finish())) {
      utf8_.reset();
      return fail(CloseCode::kInvalidPayload, "invalid UTF-8 in a text message");
    }
  }
  if (!plain) maskOffset_ = (maskOffset_ + chunk.size()) & 3;
  if (!chunk.empty()) sink.onPayload(chunk);
  if (remaining_ == 0) {
    stage_ = Stage::kHeader;
    if (messageEnds) inMessage_ = false;
    sink.onFrameEnd(frame_);
  }
  return ParseStatus::kOk;
}

template <Role R>
template <class Sink>
ParseStatus FrameParser<R>::finishControl(Sink& sink, std::span<const std::byte> body) {
  stage_ = Stage::kHeader;
  if (frame_.opcode != Opcode::kClose) {
    sink.onControl(frame_.opcode, body);
    return ParseStatus::kOk;
  }
  if (body.size() == 1) return fail(CloseCode::kProtocolError, "close payload of 1 byte");
  std::uint16_t code = toWire(CloseCode::kNoStatus);
  std::string_view reason;
  if (body.size() >= 2) {
    code = static_cast<std::uint16_t>((std::to_integer<unsigned>(body[0]) << 8) |
                                      std::to_integer<unsigned>(body[1]));
    if (!isValidWireCloseCode(code)) return fail(CloseCode::kProtocolError, "invalid close code");
    reason = {reinterpret_cast<const char*>(body.data()) + 2, body.size() - 2};
    if (!isValidUtf8(reason))
      return fail(CloseCode::kInvalidPayload, "invalid UTF-8 in close reason");
  }
  stage_ = Stage::kClosed;
  sink.onClose(code, reason);
  return ParseStatus::kClosed;
}

template <Role R>
template <class Sink>
ParseStatus FrameParser<R>::feed(std::span<std::byte> in, Sink& sink, std::size_t* consumed) {
  std::size_t pos = 0;
  ParseStatus status = stage_ == Stage::kHeld ? startFrame(sink) : ParseStatus::kOk;
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(in.data());
  while (status == ParseStatus::kOk && pos < in.size()) {
    switch (stage_) {
      case Stage::kHeader: {
        const std::size_t avail = in.size() - pos;
        if (headerHave_ == 0 && avail >= 2 && avail >= headerLength(bytes[pos + 1])) {
          // Fast path: the whole header is in this buffer.
          status = checkFirstTwo(bytes[pos], bytes[pos + 1]);
          if (status != ParseStatus::kOk) break;
          const std::size_t len = headerLength(bytes[pos + 1]);
          status = decodeHeader(bytes + pos);
          if (status != ParseStatus::kOk) break;
          pos += len;
          status = startFrame(sink);
          break;
        }
        header_[headerHave_++] = bytes[pos++];
        if (headerHave_ == 2) status = checkFirstTwo(header_[0], header_[1]);
        if (status == ParseStatus::kOk && headerHave_ >= 2 &&
            headerHave_ == headerLength(header_[1])) {
          headerHave_ = 0;
          status = decodeHeader(header_);
          if (status == ParseStatus::kOk) status = startFrame(sink);
        }
        break;
      }
      case Stage::kPayload: {
        const std::size_t take =
            static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size() - pos));
        status = payload(in.subspan(pos, take), sink);
        if (status == ParseStatus::kOk) pos += take;
        break;
      }
      case Stage::kControl: {
        const std::size_t take =
            static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size() - pos));
        if (controlHave_ == 0 && take == remaining_) {
          const std::span<std::byte> body = in.subspan(pos, take);
          if (frame_.masked) applyMask(body, frame_.mask);
          remaining_ = 0;
          pos += take;
          status = finishControl(sink, body);
          break;
        }
        if (!control_) control_ = std::make_unique<std::byte[]>(kMaxControlPayload);
        std::byte* dst = control_.get() + controlHave_;
        if (frame_.masked) {
          maskOffset_ = applyMaskCopy(dst, in.subspan(pos, take), frame_.mask, maskOffset_);
        } else {
          std::memcpy(dst, in.data() + pos, take);
        }
        controlHave_ = static_cast<std::uint8_t>(controlHave_ + take);
        remaining_ -= take;
        pos += take;
        if (remaining_ == 0) {
          status = finishControl(sink, {control_.get(), controlHave_});
          control_.reset();
        }
        break;
      }
      case Stage::kHeld:
        status = ParseStatus::kHeld;
        break;
      case Stage::kClosed:
        status = ParseStatus::kClosed;
        break;
      case Stage::kFailed:
        status = ParseStatus::kError;
        break;
    }
  }
  if (status == ParseStatus::kOk && stage_ == Stage::kClosed) status = ParseStatus::kClosed;
  if (status == ParseStatus::kOk && stage_ == Stage::kFailed) status = ParseStatus::kError;
  if (consumed) *consumed = pos;
  return status;
}

using ServerFrameParser = FrameParser<Role::kServer>;  // parses frames from clients
using ClientFrameParser = FrameParser<Role::kClient>;  // parses frames from servers

}  // namespace wsedge::ws
