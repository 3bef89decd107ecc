// AVX-512 UTF-8 validation: the algorithm of utf8_avx2.cpp on 64-byte blocks.
// The last partial block is a zero-filling masked load.
#include <immintrin.h>

#include "proxy/ws/simd_dispatch.h"
#include "proxy/ws/utf8_tables.h"

namespace wsedge::ws::detail {
namespace {

#define WSEDGE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) inline

WSEDGE_AVX512 __m512i table(const std::uint8_t (&t)[16]) {
  return _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t)));
}

WSEDGE_AVX512 __m512i highNibble(__m512i v) {
  return _mm512_and_si512(_mm512_srli_epi16(v, 4), _mm512_set1_epi8(0x0F));
}

// The block shifted right by N bytes, filled from the end of the previous
// block: first move whole 16-byte lanes up by one, then align within lanes.
template <int N>
WSEDGE_AVX512 __m512i prevBytes(__m512i input, __m512i lanesUp) {
  return _mm512_alignr_epi8(input, lanesUp, 16 - N);
}

struct State {
  __m512i error;
  __m512i prev;
  __m512i prevIncomplete;
};

WSEDGE_AVX512 void checkBlock(State& st, __m512i input) {
  if (_mm512_movepi8_mask(input) == 0) {
    st.error = _mm512_or_si512(st.error, st.prevIncomplete);
    st.prev = input;
    st.prevIncomplete = _mm512_setzero_si512();
    return;
  }
  const __m512i lanesUp = _mm512_alignr_epi32(input, st.prev, 12);
  const __m512i prev1 = prevBytes<1>(input, lanesUp);
  const __m512i special = _mm512_and_si512(
      _mm512_and_si512(_mm512_shuffle_epi8(table(kUtf8Byte1High), highNibble(prev1)),
                       _mm512_shuffle_epi8(table(kUtf8Byte1Low),
                                           _mm512_and_si512(prev1, _mm512_set1_epi8(0x0F)))),
      _mm512_shuffle_epi8(table(kUtf8Byte2High), highNibble(input)));
  const __m512i prev2 = prevBytes<2>(input, lanesUp);
  const __m512i prev3 = prevBytes<3>(input, lanesUp);
  const __m512i must23 = _mm512_or_si512(_mm512_subs_epu8(prev2, _mm512_set1_epi8(0xE0 - 0x80)),
                                         _mm512_subs_epu8(prev3, _mm512_set1_epi8(0xF0 - 0x80)));
  const __m512i must23Cont = _mm512_and_si512(must23, _mm512_set1_epi8(static_cast<char>(0x80)));
  st.error = _mm512_or_si512(st.error, _mm512_xor_si512(must23Cont, special));
  // 0xFF everywhere but the last three bytes: 0xEF, 0xDF, 0xBF.
  const __m512i maxTail =
      _mm512_set_epi64(static_cast<long long>(0xBFDFEFFFFFFFFFFFULL), -1, -1, -1, -1, -1, -1, -1);
  st.prevIncomplete = _mm512_subs_epu8(input, maxTail);
  st.prev = input;
}

}  // namespace

__attribute__((target("avx512f,avx512bw,avx512vl"))) bool utf8Avx512(const std::uint8_t* s,
                                                                     std::size_t n) {
  State st{_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
  std::size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    const __m512i a = _mm512_loadu_si512(s + i);
    const __m512i b = _mm512_loadu_si512(s + i + 64);
    if (_mm512_movepi8_mask(_mm512_or_si512(a, b)) == 0) {
      st.error = _mm512_or_si512(st.error, st.prevIncomplete);
      st.prev = b;
      st.prevIncomplete = _mm512_setzero_si512();
      continue;
    }
    checkBlock(st, a);
    checkBlock(st, b);
  }
  for (; i + 64 <= n; i += 64) checkBlock(st, _mm512_loadu_si512(s + i));
  if (i < n) {
    const __mmask64 m = (std::uint64_t{1} << (n - i)) - 1;  // n - i is 1..63
    checkBlock(st, _mm512_maskz_loadu_epi8(m, s + i));
  }
  st.error = _mm512_or_si512(st.error, st.prevIncomplete);
  return _mm512_test_epi8_mask(st.error, st.error) == 0;
}

}  // namespace wsedge::ws::detail
