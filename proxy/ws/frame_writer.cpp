#include "proxy/ws/frame_writer.h"

#include <algorithm>
#include <cstring>

namespace wsedge::ws {

std::size_t writeFrameHeader(std::byte* out, const FrameHeader& header) {
  auto* p = reinterpret_cast<std::uint8_t*>(out);
  p[0] = static_cast<std::uint8_t>((header.fin ? 0x80 : 0) | (header.rsv & 0x70) |
                                   static_cast<std::uint8_t>(header.opcode));
  const std::uint8_t maskBit = header.masked ? 0x80 : 0;
  std::size_t n;
  if (header.length < 126) {
    p[1] = static_cast<std::uint8_t>(maskBit | header.length);
    n = 2;
  } else if (header.length <= 0xFFFF) {
    p[1] = maskBit | 126;
    p[2] = static_cast<std::uint8_t>(header.length >> 8);
    p[3] = static_cast<std::uint8_t>(header.length);
    n = 4;
  } else {
    p[1] = maskBit | 127;
    for (int i = 0; i < 8; ++i) p[2 + i] = static_cast<std::uint8_t>(header.length >> (56 - 8 * i));
    n = 10;
  }
  if (header.masked) {
    std::memcpy(p + n, header.mask.data(), 4);
    n += 4;
  }
  return n;
}

void appendFrame(std::vector<std::byte>& out, FrameHeader header,
                 std::span<const std::byte> payload) {
  header.length = payload.size();
  const std::size_t start = out.size();
  out.resize(start + kMaxFrameHeaderSize + payload.size());
  const std::size_t headerLen = writeFrameHeader(out.data() + start, header);
  std::byte* body = out.data() + start + headerLen;
  if (header.masked) {
    applyMaskCopy(body, payload, header.mask);
  } else if (!payload.empty()) {
    std::memcpy(body, payload.data(), payload.size());
  }
  out.resize(start + headerLen + payload.size());
}

std::size_t writeClosePayload(std::byte* out, std::uint16_t code, std::string_view reason) {
  out[0] = static_cast<std::byte>(code >> 8);
  out[1] = static_cast<std::byte>(code & 0xFF);
  std::size_t len = std::min(reason.size(), kMaxControlPayload - 2);
  // Back off to a code point boundary: never cut a sequence in two.
  if (len < reason.size()) {
    while (len > 0 && (static_cast<std::uint8_t>(reason[len]) & 0xC0) == 0x80) --len;
  }
  if (len != 0) std::memcpy(out + 2, reason.data(), len);
  return 2 + len;
}

}  // namespace wsedge::ws
