// AVX-512 masking, 64 bytes a step. The tail is one masked load and store,
// so a short control-frame payload (<= 125 bytes) costs at most two vectors.
#include <immintrin.h>

#include "proxy/ws/simd_dispatch.h"

namespace wsedge::ws::detail {

__attribute__((target("avx512f,avx512bw,avx512vl"))) void maskAvx512(std::uint8_t* dst,
                                                                     const std::uint8_t* src,
                                                                     std::size_t n,
                                                                     std::uint32_t key) {
  const __m512i k = _mm512_set1_epi32(static_cast<int>(key));
  std::size_t i = 0;
  for (; i + 256 <= n; i += 256) {
    __m512i a = _mm512_loadu_si512(src + i);
    __m512i b = _mm512_loadu_si512(src + i + 64);
    __m512i c = _mm512_loadu_si512(src + i + 128);
    __m512i d = _mm512_loadu_si512(src + i + 192);
    _mm512_storeu_si512(dst + i, _mm512_xor_si512(a, k));
    _mm512_storeu_si512(dst + i + 64, _mm512_xor_si512(b, k));
    _mm512_storeu_si512(dst + i + 128, _mm512_xor_si512(c, k));
    _mm512_storeu_si512(dst + i + 192, _mm512_xor_si512(d, k));
  }
  for (; i + 64 <= n; i += 64) {
    _mm512_storeu_si512(dst + i, _mm512_xor_si512(_mm512_loadu_si512(src + i), k));
  }
  if (i < n) {
    // Masked lanes are neither read nor written, so this never touches
    // memory past the end of either buffer.
    const __mmask64 m = (std::uint64_t{1} << (n - i)) - 1;  // n - i is 1..63
    const __m512i v = _mm512_maskz_loadu_epi8(m, src + i);
    _mm512_mask_storeu_epi8(dst + i, m, _mm512_xor_si512(v, k));
  }
}

}  // namespace wsedge::ws::detail
