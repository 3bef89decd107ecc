// WebSocket masking (RFC 6455 §5.3): XOR with a 4-byte key. The same
// operation masks and unmasks. It streams: a payload split across buffers is
// processed piece by piece, carrying the key offset from one call to the next.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace wsedge::ws {

using MaskKey = std::array<std::uint8_t, 4>;

/// XORs data in place with key, starting at key byte keyOffset (any value;
/// only keyOffset % 4 matters). Returns the key offset after the last byte.
std::size_t applyMask(std::span<std::byte> data, MaskKey key, std::size_t keyOffset = 0);

/// dst = src XOR key (from keyOffset). dst must hold src.size() bytes; it may
/// be src itself but must not otherwise overlap it. Returns the next offset.
std::size_t applyMaskCopy(std::byte* dst, std::span<const std::byte> src, MaskKey key,
                          std::size_t keyOffset = 0);

/// The single key that turns bytes masked with `from` (at key offset
/// fromOffset) into bytes masked with `to` (at toOffset): one XOR pass
/// changes keys without ever holding the plaintext.
MaskKey rekey(MaskKey from, std::size_t fromOffset, MaskKey to, std::size_t toOffset);

}  // namespace wsedge::ws
