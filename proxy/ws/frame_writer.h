// Writing frames: headers with minimal length encoding, optional masking, and
// close payloads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "proxy/ws/close_code.h"
#include "proxy/ws/frame.h"

namespace wsedge::ws {

/// Size of the header for a payload of this length.
constexpr std::size_t frameHeaderSize(std::uint64_t length, bool masked) {
  const std::size_t base = length < 126 ? 2 : length <= 0xFFFF ? 4 : 10;
  return base + (masked ? 4 : 0);
}

/// Writes the header (2 to 14 bytes) to out, which must hold
/// kMaxFrameHeaderSize bytes. The mask key is written iff header.masked.
/// Returns the number of bytes written.
std::size_t writeFrameHeader(std::byte* out, const FrameHeader& header);

/// Appends a whole frame: header, then the payload, masked iff header.masked.
/// header.length is taken from payload.size().
void appendFrame(std::vector<std::byte>& out, FrameHeader header,
                 std::span<const std::byte> payload);

/// The payload of a close frame: the code in network order, then the reason
/// truncated to fit 125 bytes without splitting a UTF-8 sequence. Returns its
/// size (2 to 125). out must hold kMaxControlPayload bytes.
std::size_t writeClosePayload(std::byte* out, std::uint16_t code, std::string_view reason);

}  // namespace wsedge::ws
