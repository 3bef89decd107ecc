// Differential UTF-8 fuzzing: every SIMD level must agree with the scalar
// kernel, and the streaming validator (split where the first byte says)
// must agree with both.
#include <cstdint>
#include <cstdlib>

#include "proxy/ws/simd_dispatch.h"
#include "proxy/ws/utf8.h"

using namespace wsedge::ws;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t* p = data + 1;
  const std::size_t n = size - 1;
  const bool expected = detail::utf8Scalar(p, n);
  const SimdLevel best = detectedSimdLevel();
  if (best >= SimdLevel::kAvx2 && detail::utf8Avx2(p, n) != expected) std::abort();
  if (best >= SimdLevel::kAvx512 && detail::utf8Avx512(p, n) != expected) std::abort();

  const std::size_t cut = n == 0 ? 0 : data[0] % (n + 1);
  const auto* b = reinterpret_cast<const std::byte*>(p);
  Utf8Validator v;
  const bool streamed = v.feed({b, cut}) && v.feed({b + cut, n - cut}) && v.finish();
  if (streamed != expected) std::abort();
  return 0;
}
