#include "proxy/session/relay.h"

#include <algorithm>
#include <cstring>

#include "proxy/ws/frame_writer.h"

namespace wsedge::proxy {

using ws::FrameHeader;
using ws::Opcode;

template <ws::Role R>
FrameHeader Relay<R>::outputHeader(Opcode op, bool fin, std::uint8_t rsv, std::uint64_t len) {
  FrameHeader h;
  h.fin = fin;
  h.rsv = rsv;
  h.opcode = op;
  h.length = len;
  h.masked = kMaskOutput;
  // The proxy is the client toward a backend: every frame gets a fresh key.
  if (kMaskOutput) h.mask = masks_->next();
  return h;
}

template <ws::Role R>
Relay<R>::Relay(const ws::FrameParserOptions& options, ws::MaskKeySource& masks)
    : parser_(options), masks_(&masks) {
  // Frames from a client arrive masked and leave masked: the parser leaves
  // them masked, and the relay changes keys in the same pass as the copy.
  ws::FrameParserOptions o = options;
  o.unmask = !kMaskOutput;
  parser_.setOptions(o);
}

// Copies payload bytes that sit at offset `in` of the frame being read to
// offset `out` of the frame being written, changing the mask on the way.
template <ws::Role R>
static void putPayload(std::byte* dst, std::span<const std::byte> src, const FrameHeader& from,
                       std::uint64_t in, const FrameHeader& to, std::uint64_t out) {
  if (to.masked) {
    // Client frames keep their mask until here: one pass both removes the
    // client's key and applies ours.
    const ws::MaskKey k = from.masked ? ws::rekey(from.mask, in & 3, to.mask, out & 3) : to.mask;
    ws::applyMaskCopy(dst, src, k, from.masked ? 0 : out & 3);
  } else if (!src.empty()) {
    std::memcpy(dst, src.data(), src.size());
  }
}

template <ws::Role R>
void Relay<R>::writeControl(io::SendQueue& out, Opcode op, std::span<const std::byte> payload) {
  // Control payloads are always held unmasked by the parser.
  const FrameHeader h = outputHeader(op, true, 0, payload.size());
  std::byte* p = out.reserve(ws::frameHeaderSize(h.length, h.masked) + payload.size());
  const std::size_t n = ws::writeFrameHeader(p, h);
  putPayload<R>(p + n, payload, FrameHeader{}, 0, h, 0);
  out.commit();
}

template <ws::Role R>
struct Relay<R>::Sink {
  Relay& r;
  io::SendQueue& out;

  void onFrameStart(const FrameHeader& h) {
    r.frame_ = h;
    r.remaining_ = h.length;
    if (h.length <= kWholeFrameMax) {
      // Gather the whole frame uncommitted; it goes out when complete.
      r.mode_ = Mode::kWhole;
      const FrameHeader o = r.outputHeader(h.opcode, h.fin, h.rsv, h.length);
      const std::size_t header = ws::frameHeaderSize(h.length, o.masked);
      ws::writeFrameHeader(out.reserve(header, header + h.length), o);
      r.key_ = o.mask;
    } else {
      r.mode_ = Mode::kCut;
      r.cutStarted_ = false;
    }
  }

  void onPayload(std::span<std::byte> data) {
    const std::uint64_t at = r.frame_.length - r.remaining_;  // offset in the source frame
    r.remaining_ -= data.size();
    r.bytes_ += data.size();
    if (r.counters_) r.counters_->bytes += data.size();
    if (r.mode_ == Mode::kWhole) {
      if (data.empty()) return;
      FrameHeader o;
      o.masked = kMaskOutput;
      o.mask = r.key_;
      // Only what arrived: a header alone must not make the proxy hold 64 KiB.
      putPayload<R>(out.reserve(data.size()), data, r.frame_, at, o, at);
      return;
    }
    // Cut through: this piece becomes a complete fragment of its own. A
    // piece too small to be worth a header waits for more (unmasked, in
    // held_), so a sender dripping a big frame byte by byte cannot make the
    // proxy send each byte behind a header of its own.
    const bool last = r.remaining_ == 0;
    if (!last && r.held_.size() + data.size() < kMinCutPiece) {
      const std::size_t off = r.held_.size();
      r.held_.resize(off + data.size());
      if (r.frame_.masked) {
        ws::applyMaskCopy(r.held_.data() + off, data, r.frame_.mask, at & 3);
      } else {
        std::memcpy(r.held_.data() + off, data.data(), data.size());
      }
      return;
    }
    const std::size_t held = r.held_.size();
    const Opcode op = r.cutStarted_ ? Opcode::kContinuation : r.frame_.opcode;
    const std::uint8_t rsv = r.cutStarted_ ? 0 : r.frame_.rsv;
    const FrameHeader o = r.outputHeader(op, last && r.frame_.fin, rsv, held + data.size());
    std::byte* p = out.reserve(ws::frameHeaderSize(o.length, o.masked) + held + data.size());
    const std::size_t n = ws::writeFrameHeader(p, o);
    putPayload<R>(p + n, r.held_, FrameHeader{}, 0, o, 0);
    putPayload<R>(p + n + held, data, r.frame_, at, o, held);
    out.commit();
    r.cutStarted_ = true;
    r.held_ = {};  // nothing kept while idle
  }

  bool admit(const FrameHeader&) {
    if (r.started_ >= r.messageLimit_) return false;
    ++r.started_;
    return true;
  }

  void onFrameEnd(const FrameHeader& h) {
    // A message the filter keeps stops here: it was gathered, uncommitted.
    const bool kept = r.mode_ == Mode::kWhole && r.filter_ && h.fin && h.opcode == Opcode::kText &&
                      h.rsv == 0 && r.filtered(out, h);
    if (kept) {
      out.rollback();
    } else if (r.mode_ == Mode::kWhole) {
      out.commit();
    }
    r.mode_ = Mode::kIdle;
    ++r.frames_;
    if (!kept && h.fin) ++r.messages_;
    if (r.counters_) {
      ++r.counters_->frames[static_cast<std::size_t>(h.opcode) & 15];
      if (!kept && h.fin) ++r.counters_->messages;
    }
    if (r.pingDue_) {
      r.pingDue_ = false;
      r.writeControl(out, Opcode::kPing, r.ping_);
    }
  }

  void onControl(Opcode op, std::span<const std::byte> payload) {
    if (r.counters_) ++r.counters_->frames[static_cast<std::size_t>(op) & 15];
    if (op == Opcode::kPong && r.pongExpected_ && payload.size() == r.pong_.size() &&
        std::memcmp(payload.data(), r.pong_.data(), r.pong_.size()) == 0) {
      r.pongExpected_ = false;  // the answer to our own ping: it stops here
      return;
    }
    ++r.frames_;
    r.writeControl(out, op, payload);
  }

  void onClose(std::uint16_t code, std::string_view reason) {
    ++r.frames_;
    if (r.counters_) ++r.counters_->frames[static_cast<std::size_t>(Opcode::kClose)];
    r.closeCode_ = code;
    r.closeReason_.assign(reason);
    std::byte payload[ws::kMaxControlPayload];
    const std::size_t n = code == ws::toWire(ws::CloseCode::kNoStatus)
                              ? 0
                              : ws::writeClosePayload(payload, code, reason);
    r.writeControl(out, Opcode::kClose, {payload, n});
    r.closeSent_ = true;
    r.closeReceived_ = true;
  }
};

template <ws::Role R>
bool Relay<R>::filtered(const io::SendQueue& out, const FrameHeader& h) {
  const std::size_t header = ws::frameHeaderSize(h.length, kMaskOutput);
  std::byte head[MessageFilter::kPeek];
  const std::size_t peek = std::min<std::size_t>(sizeof head, h.length);
  out.copyUncommitted(header, head, peek);
  if (kMaskOutput || !filter_->wants({head, peek})) return false;
  std::vector<std::byte> payload(h.length);
  out.copyUncommitted(header, payload.data(), payload.size());
  return filter_->consume(payload);
}

template <ws::Role R>
RelayResult Relay<R>::feed(std::span<std::byte> in, io::SendQueue& out) {
  if (closeSent_) return {RelayResult::Status::kClosed, closeCode_, closeReason_};
  Sink sink{*this, out};
  std::size_t consumed = 0;
  switch (parser_.feed(in, sink, &consumed)) {
    case ws::ParseStatus::kOk:
      return {};
    case ws::ParseStatus::kClosed:
      return {RelayResult::Status::kClosed, closeCode_, closeReason_};
    case ws::ParseStatus::kHeld: {
      RelayResult held{RelayResult::Status::kHeld};
      held.consumed = consumed;
      return held;
    }
    case ws::ParseStatus::kError:
      break;
  }
  const ws::FrameError& e = parser_.error();
  return {RelayResult::Status::kError, ws::toWire(e.code), e.reason};
}

template <ws::Role R>
void Relay<R>::sendPing(io::SendQueue& out, const PingPayload& payload) {
  if (closeSent_) return;
  ping_ = payload;
  // A frame being gathered sits uncommitted in the queue: the ping goes
  // behind it (a control frame may come between fragments, never inside one).
  if (mode_ == Mode::kWhole) {
    pingDue_ = true;
    return;
  }
  writeControl(out, Opcode::kPing, ping_);
}

template <ws::Role R>
void Relay<R>::expectPong(const PingPayload& payload) {
  pong_ = payload;
  pongExpected_ = true;
}

template <ws::Role R>
void Relay<R>::sendClose(io::SendQueue& out, std::uint16_t code, std::string_view reason) {
  if (closeSent_) return;
  out.rollback();  // a frame still being gathered never goes out
  mode_ = Mode::kIdle;
  pingDue_ = false;
  held_ = {};
  std::byte payload[ws::kMaxControlPayload];
  const std::size_t n = ws::writeClosePayload(payload, code, reason);
  writeControl(out, Opcode::kClose, {payload, n});
  closeSent_ = true;
  closeCode_ = code;
  closeReason_.assign(reinterpret_cast<const char*>(payload) + 2, n - 2);
}

template class Relay<ws::Role::kServer>;
template class Relay<ws::Role::kClient>;

}  // namespace wsedge::proxy
