// Fuzzes the frame parser in both roles. The first bytes choose the role,
// the limits, whether RSV1 is allowed and a piece size. A split run must end
// the same way as the whole run (status and close code). Its events must be
// the same too, except that on an error it may have delivered more of the
// valid start of a text payload first: streaming validation only rejects
// the piece that holds the bad byte.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "proxy/ws/frame_parser.h"

using namespace wsedge::ws;

namespace {
struct Recorder {
  std::string log;
  void onFrameStart(const FrameHeader& h) {
    log += 'S';
    log += static_cast<char>(h.opcode);
    log += h.fin ? 'F' : '-';
    log += std::to_string(h.length);
  }
  void onPayload(std::span<std::byte> d) {
    log.append(reinterpret_cast<const char*>(d.data()), d.size());
  }
  void onFrameEnd(const FrameHeader&) { log += 'E'; }
  void onControl(Opcode op, std::span<const std::byte> p) {
    log += 'C';
    log += static_cast<char>(op);
    log.append(reinterpret_cast<const char*>(p.data()), p.size());
  }
  void onClose(std::uint16_t code, std::string_view reason) {
    log += 'X' + std::to_string(code);
    log.append(reason);
  }
};

struct Outcome {
  std::string log;
  std::string end;  // status and close code
};

template <Role R>
Outcome run(std::vector<std::byte> in, FrameParserOptions limits, std::size_t piece) {
  FrameParser<R> p(limits);
  Recorder rec;
  ParseStatus st = ParseStatus::kOk;
  std::size_t pos = 0;
  while (pos < in.size() && st == ParseStatus::kOk) {
    const std::size_t n = std::min(piece, in.size() - pos);
    st = p.feed(std::span(in).subspan(pos, n), rec);
    pos += n;
  }
  std::string end = std::to_string(static_cast<int>(st));
  if (st == ParseStatus::kError) end += ":" + std::to_string(toWire(p.error().code));
  return {rec.log, end};
}

template <Role R>
void check(const std::vector<std::byte>& in, FrameParserOptions limits, std::size_t piece) {
  const Outcome whole = run<R>(in, limits, in.size() + 1);
  const Outcome split = run<R>(in, limits, piece);
  if (whole.end != split.end) std::abort();
  // Leaving payloads masked changes the bytes handed over, never the verdict.
  FrameParserOptions masked = limits;
  masked.unmask = !limits.unmask;
  if (run<R>(in, masked, piece).end != split.end) std::abort();
  const bool error = whole.end.front() == '0' + static_cast<int>(ParseStatus::kError);
  if (error ? split.log.compare(0, whole.log.size(), whole.log) != 0 : whole.log != split.log) {
    std::abort();
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  FrameParserOptions limits;
  limits.maxFrameSize = data[1] & 1 ? 1000 : 1 << 20;
  limits.maxMessageSize = data[1] & 2 ? 3000 : 1 << 20;
  limits.validateUtf8 = (data[1] & 4) == 0;
  limits.allowedRsv = data[1] & 8 ? kRsv1 : 0;
  const std::size_t piece = 1 + data[2] % 64;
  std::vector<std::byte> in(reinterpret_cast<const std::byte*>(data) + 3,
                            reinterpret_cast<const std::byte*>(data) + size);
  if (data[0] & 1) {
    check<Role::kServer>(in, limits, piece);
  } else {
    check<Role::kClient>(in, limits, piece);
  }
  return 0;
}
