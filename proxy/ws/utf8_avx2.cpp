// AVX2 UTF-8 validation by table lookup (Keiser & Lemire, "Validating UTF-8
// in less than one instruction per byte", 2021). Three 16-entry tables,
// indexed by the high nibble of the previous byte, its low nibble and the
// high nibble of the current byte, flag every invalid two-byte pattern; a
// saturating subtract finds where a third or fourth byte must be a
// continuation. Input must be complete: the last block is zero-padded.
#include <immintrin.h>

#include <cstring>

#include "proxy/ws/simd_dispatch.h"
#include "proxy/ws/utf8_tables.h"

namespace wsedge::ws::detail {
namespace {

#define WSEDGE_AVX2 __attribute__((target("avx2"), always_inline)) inline

WSEDGE_AVX2 __m256i table(const std::uint8_t (&t)[16]) {
  return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t)));
}

WSEDGE_AVX2 __m256i highNibble(__m256i v) {
  return _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0F));
}

// The block shifted right by N bytes, filled from the end of the previous block.
template <int N>
WSEDGE_AVX2 __m256i prevBytes(__m256i input, __m256i prev) {
  return _mm256_alignr_epi8(input, _mm256_permute2x128_si256(prev, input, 0x21), 16 - N);
}

// No default member initialisers: they would be compiled outside the AVX2 target.
struct State {
  __m256i error;
  __m256i prev;
  __m256i prevIncomplete;
};

WSEDGE_AVX2 void checkBlock(State& st, __m256i input) {
  if (_mm256_movemask_epi8(input) == 0) {
    // All ASCII: fine unless the previous block ended mid-sequence.
    st.error = _mm256_or_si256(st.error, st.prevIncomplete);
    st.prev = input;
    st.prevIncomplete = _mm256_setzero_si256();
    return;
  }
  const __m256i prev1 = prevBytes<1>(input, st.prev);
  const __m256i lowNibbleMask = _mm256_set1_epi8(0x0F);
  const __m256i special = _mm256_and_si256(
      _mm256_and_si256(
          _mm256_shuffle_epi8(table(kUtf8Byte1High), highNibble(prev1)),
          _mm256_shuffle_epi8(table(kUtf8Byte1Low), _mm256_and_si256(prev1, lowNibbleMask))),
      _mm256_shuffle_epi8(table(kUtf8Byte2High), highNibble(input)));
  const __m256i prev2 = prevBytes<2>(input, st.prev);
  const __m256i prev3 = prevBytes<3>(input, st.prev);
  // >= 0x80 exactly where a byte two or three back is a 3- or 4-byte lead.
  const __m256i must23 = _mm256_or_si256(_mm256_subs_epu8(prev2, _mm256_set1_epi8(0xE0 - 0x80)),
                                         _mm256_subs_epu8(prev3, _mm256_set1_epi8(0xF0 - 0x80)));
  const __m256i must23Cont = _mm256_and_si256(must23, _mm256_set1_epi8(static_cast<char>(0x80)));
  st.error = _mm256_or_si256(st.error, _mm256_xor_si256(must23Cont, special));
  // A lead byte in the last three positions needs bytes from the next block.
  const __m256i maxTail =
      _mm256_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                       -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, static_cast<char>(0xF0 - 1),
                       static_cast<char>(0xE0 - 1), static_cast<char>(0xC0 - 1));
  st.prevIncomplete = _mm256_subs_epu8(input, maxTail);
  st.prev = input;
}

}  // namespace

__attribute__((target("avx2"))) bool utf8Avx2(const std::uint8_t* s, std::size_t n) {
  State st{_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
  std::size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i + 32));
    if (_mm256_movemask_epi8(_mm256_or_si256(a, b)) == 0) {
      st.error = _mm256_or_si256(st.error, st.prevIncomplete);
      st.prev = b;
      st.prevIncomplete = _mm256_setzero_si256();
      continue;
    }
    checkBlock(st, a);
    checkBlock(st, b);
  }
  for (; i + 32 <= n; i += 32) {
    checkBlock(st, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i)));
  }
  if (i < n) {
    alignas(32) std::uint8_t last[32] = {};
    std::memcpy(last, s + i, n - i);
    checkBlock(st, _mm256_load_si256(reinterpret_cast<const __m256i*>(last)));
  }
  st.error = _mm256_or_si256(st.error, st.prevIncomplete);
  return _mm256_testz_si256(st.error, st.error) != 0;
}

}  // namespace wsedge::ws::detail
