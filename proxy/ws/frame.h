// Frame-level vocabulary of RFC 6455 §5.2.
#pragma once

#include <cstddef>
#include <cstdint>

#include "proxy/ws/unmask.h"

namespace wsedge::ws {

enum class Opcode : std::uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

constexpr bool isControl(Opcode op) {
  return (static_cast<std::uint8_t>(op) & 0x8) != 0;
}
constexpr bool isKnownOpcode(std::uint8_t op) {
  return op <= 0x2 || (op >= 0x8 && op <= 0xA);
}

/// RSV bits as they sit in the first header byte.
inline constexpr std::uint8_t kRsv1 = 0x40;
inline constexpr std::uint8_t kRsv2 = 0x20;
inline constexpr std::uint8_t kRsv3 = 0x10;

inline constexpr std::size_t kMaxFrameHeaderSize = 14;
inline constexpr std::size_t kMaxControlPayload = 125;

struct FrameHeader {
  bool fin = true;
  std::uint8_t rsv = 0;  // kRsv1 | kRsv2 | kRsv3 bits
  Opcode opcode = Opcode::kBinary;
  bool masked = false;
  MaskKey mask{};
  std::uint64_t length = 0;
};

/// Which end of a connection parses or writes: a server reads masked frames
/// from clients and writes unmasked ones; a client does the reverse.
enum class Role : std::uint8_t { kServer, kClient };

}  // namespace wsedge::ws
