#include "proxy/ws/unmask.h"

#include <bit>
#include <cstring>

#include "proxy/ws/simd_dispatch.h"

namespace wsedge::ws {
namespace {

// The key as a 32-bit word in memory order, rotated so that the kernels can
// always start at key byte 0. One load and a rotate: assembling it byte by
// byte would stall store forwarding, which cost 6 ns a call.
std::uint32_t rotatedKey(MaskKey key, std::size_t offset) {
  std::uint32_t word;
  std::memcpy(&word, key.data(), 4);
  static_assert(std::endian::native == std::endian::little, "key rotation assumes little-endian");
  return std::rotr(word, static_cast<int>(8 * (offset & 3)));
}

}  // namespace

std::size_t applyMask(std::span<std::byte> data, MaskKey key, std::size_t keyOffset) {
  auto* p = reinterpret_cast<std::uint8_t*>(data.data());
  detail::dispatch().mask(p, p, data.size(), rotatedKey(key, keyOffset));
  return (keyOffset + data.size()) & 3;
}

std::size_t applyMaskCopy(std::byte* dst, std::span<const std::byte> src, MaskKey key,
                          std::size_t keyOffset) {
  detail::dispatch().mask(reinterpret_cast<std::uint8_t*>(dst),
                          reinterpret_cast<const std::uint8_t*>(src.data()), src.size(),
                          rotatedKey(key, keyOffset));
  return (keyOffset + src.size()) & 3;
}

MaskKey rekey(MaskKey from, std::size_t fromOffset, MaskKey to, std::size_t toOffset) {
  MaskKey k;
  for (std::size_t i = 0; i < 4; ++i) k[i] = from[(fromOffset + i) & 3] ^ to[(toOffset + i) & 3];
  return k;
}

}  // namespace wsedge::ws
