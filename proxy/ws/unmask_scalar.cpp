// Portable masking, eight bytes at a time.
#include <cstring>

#include "proxy/ws/simd_dispatch.h"

namespace wsedge::ws::detail {

void maskScalar(std::uint8_t* dst, const std::uint8_t* src, std::size_t n, std::uint32_t key) {
  const std::uint64_t key64 = (std::uint64_t{key} << 32) | key;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t word;
    std::memcpy(&word, src + i, 8);
    word ^= key64;
    std::memcpy(dst + i, &word, 8);
  }
  std::uint8_t keyBytes[4];
  std::memcpy(keyBytes, &key, 4);
  for (; i < n; ++i) dst[i] = src[i] ^ keyBytes[i & 3];
}

}  // namespace wsedge::ws::detail
