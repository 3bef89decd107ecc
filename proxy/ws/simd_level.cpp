#include "proxy/ws/simd_level.h"

#include "proxy/ws/simd_dispatch.h"

namespace wsedge::ws {

SimdLevel detectedSimdLevel() {
  static const SimdLevel level = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl")) {
      return SimdLevel::kAvx512;
    }
    if (__builtin_cpu_supports("avx2")) return SimdLevel::kAvx2;
    if (__builtin_cpu_supports("sse2")) return SimdLevel::kSse2;
    return SimdLevel::kScalar;
  }();
  return level;
}

SimdLevel activeSimdLevel() {
  return detail::dispatch().level;
}

bool forceSimdLevel(SimdLevel level) {
  if (level > detectedSimdLevel()) return false;
  detail::selectDispatch(level);
  return true;
}

std::string_view simdLevelName(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar:
      return "scalar";
    case SimdLevel::kSse2:
      return "sse2";
    case SimdLevel::kAvx2:
      return "avx2";
    case SimdLevel::kAvx512:
      return "avx512";
  }
  return "unknown";
}

}  // namespace wsedge::ws
