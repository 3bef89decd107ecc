#include "proxy/relay.h"

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

// Writes bytes as the payload of the frame being written, masking if needed.
static void putPayload(std::byte* dst, std::span<const std::byte> src, bool mask,
                       const ws::MaskKey& key, std::size_t* keyOffset) {
  if (mask) {
    *keyOffset = ws::applyMaskCopy(dst, src, key, *keyOffset);
  } else if (!src.empty()) {
    std::memcpy(dst, src.data(), src.size());
  }
}

template <ws::Role R>
void Relay<R>::writeControl(io::SendQueue& out, Opcode op, std::span<const std::byte> payload) {
  const FrameHeader h = outputHeader(op, true, 0, payload.size());
  std::byte* p = out.reserve(ws::frameHeaderSize(h.length, h.masked) + payload.size());
  const std::size_t n = ws::writeFrameHeader(p, h);
  std::size_t offset = 0;
  putPayload(p + n, payload, h.masked, h.mask, &offset);
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
      r.whole_ = out.reserve(ws::frameHeaderSize(h.length, o.masked) + h.length);
      r.whole_ += ws::writeFrameHeader(r.whole_, o);
      r.key_ = o.mask;
      r.keyOffset_ = 0;
    } else {
      r.mode_ = Mode::kCut;
      r.cutStarted_ = false;
    }
  }

  void onPayload(std::span<std::byte> data) {
    r.remaining_ -= data.size();
    if (r.mode_ == Mode::kWhole) {
      putPayload(r.whole_, data, kMaskOutput, r.key_, &r.keyOffset_);
      r.whole_ += data.size();
      return;
    }
    // Cut through: this piece becomes a complete fragment of its own.
    const bool last = r.remaining_ == 0;
    const Opcode op = r.cutStarted_ ? Opcode::kContinuation : r.frame_.opcode;
    const std::uint8_t rsv = r.cutStarted_ ? 0 : r.frame_.rsv;
    const FrameHeader o = r.outputHeader(op, last && r.frame_.fin, rsv, data.size());
    std::byte* p = out.reserve(ws::frameHeaderSize(o.length, o.masked) + data.size());
    const std::size_t n = ws::writeFrameHeader(p, o);
    std::size_t offset = 0;
    putPayload(p + n, data, o.masked, o.mask, &offset);
    out.commit();
    r.cutStarted_ = true;
  }

  void onFrameEnd(const FrameHeader& h) {
    if (r.mode_ == Mode::kWhole) out.commit();
    r.mode_ = Mode::kIdle;
    if (h.fin) ++r.messages_;
  }

  void onControl(Opcode op, std::span<const std::byte> payload) { r.writeControl(out, op, payload); }

  void onClose(std::uint16_t code, std::string_view reason) {
    r.closeCode_ = code;
    r.closeReasonLen_ = static_cast<std::uint8_t>(reason.size());
    if (!reason.empty()) std::memcpy(r.closeReason_, reason.data(), reason.size());
    std::byte payload[ws::kMaxControlPayload];
    const std::size_t n = code == ws::toWire(ws::CloseCode::kNoStatus)
                              ? 0
                              : ws::writeClosePayload(payload, code, reason);
    r.writeControl(out, Opcode::kClose, {payload, n});
    r.closeSent_ = true;
  }
};

template <ws::Role R>
RelayResult Relay<R>::feed(std::span<std::byte> in, io::SendQueue& out) {
  if (closeSent_) return {RelayResult::Status::kClosed, closeCode_, {closeReason_, closeReasonLen_}};
  Sink sink{*this, out};
  switch (parser_.feed(in, sink)) {
    case ws::ParseStatus::kOk:
      return {};
    case ws::ParseStatus::kClosed:
      return {RelayResult::Status::kClosed, closeCode_, {closeReason_, closeReasonLen_}};
    case ws::ParseStatus::kError:
      break;
  }
  const ws::FrameError& e = parser_.error();
  return {RelayResult::Status::kError, ws::toWire(e.code), e.reason};
}

template <ws::Role R>
void Relay<R>::sendClose(io::SendQueue& out, std::uint16_t code, std::string_view reason) {
  if (closeSent_) return;
  out.rollback();  // a frame still being gathered never goes out
  mode_ = Mode::kIdle;
  std::byte payload[ws::kMaxControlPayload];
  const std::size_t n = ws::writeClosePayload(payload, code, reason);
  writeControl(out, Opcode::kClose, {payload, n});
  closeSent_ = true;
}

template class Relay<ws::Role::kServer>;
template class Relay<ws::Role::kClient>;

}  // namespace wsedge::proxy
