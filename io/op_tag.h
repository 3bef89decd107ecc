// The 64-bit user_data of every submission: which operation, on which
// connection slot, for which generation of that slot. A completion whose
// generation no longer matches its slot belongs to a connection that has
// since closed, and is dropped.
#pragma once

#include <cstdint>

namespace wsedge::io {

enum class Op : std::uint8_t {
  kNone = 0,
  kAccept,    // multishot accept on a listener (slot = listener index)
  kRecv,      // multishot recv from the provided-buffer ring
  kSend,      // send or sendmsg from the connection's send queue
  kConnect,   // outgoing connection to a backend
  kCancel,    // cancellation of a connection's other operations
  kShutdown,  // shutdown(SHUT_WR) after the last byte was sent
  kWake,      // read of the worker's eventfd
};

struct OpTag {
  Op op = Op::kNone;
  std::uint32_t slot = 0;  // 24 bits are kept
  std::uint32_t gen = 0;

  static constexpr std::uint32_t kMaxSlots = 1u << 24;

  constexpr std::uint64_t encode() const {
    return (std::uint64_t{static_cast<std::uint8_t>(op)} << 56) |
           (std::uint64_t{slot & (kMaxSlots - 1)} << 32) | gen;
  }
  static constexpr OpTag decode(std::uint64_t v) {
    return {static_cast<Op>(v >> 56), static_cast<std::uint32_t>(v >> 32) & (kMaxSlots - 1),
            static_cast<std::uint32_t>(v)};
  }
};

static_assert(OpTag::decode(OpTag{Op::kSend, 0xABCDEF, 0xFFFFFFFF}.encode()).slot == 0xABCDEF);

}  // namespace wsedge::io
