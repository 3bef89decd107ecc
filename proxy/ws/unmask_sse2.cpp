// SSE2 masking, 16 bytes a step. Compiled with a target attribute, not a
// file-wide -m flag, so no SSE-only code can leak into shared inline functions.
#include <immintrin.h>

#include "proxy/ws/simd_dispatch.h"

namespace wsedge::ws::detail {

__attribute__((target("sse2"))) void maskSse2(std::uint8_t* dst, const std::uint8_t* src,
                                              std::size_t n, std::uint32_t key) {
  const __m128i k = _mm_set1_epi32(static_cast<int>(key));
  std::size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 16));
    __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 32));
    __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 48));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm_xor_si128(a, k));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 16), _mm_xor_si128(b, k));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 32), _mm_xor_si128(c, k));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 48), _mm_xor_si128(d, k));
  }
  for (; i + 16 <= n; i += 16) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm_xor_si128(a, k));
  }
  // i is a multiple of 16, so the key phase is still 0 for the tail.
  maskScalar(dst + i, src + i, n - i, key);
}

}  // namespace wsedge::ws::detail
