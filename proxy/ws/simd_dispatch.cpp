#include "proxy/ws/simd_dispatch.h"

namespace wsedge::ws::detail {

constinit Dispatch gDispatch{SimdLevel::kScalar, &maskScalar, &utf8Scalar};

void selectDispatch(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar:
      gDispatch = {level, &maskScalar, &utf8Scalar};
      break;
    // SSE2 has no byte shuffle, so UTF-8 stays scalar at that level.
    case SimdLevel::kSse2:
      gDispatch = {level, &maskSse2, &utf8Scalar};
      break;
    case SimdLevel::kAvx2:
      gDispatch = {level, &maskAvx2, &utf8Avx2};
      break;
    case SimdLevel::kAvx512:
      gDispatch = {level, &maskAvx512, &utf8Avx512};
      break;
  }
}

namespace {
// Upgrade from scalar to the best level once, when the library loads.
[[maybe_unused]] const bool kSelected = (selectDispatch(detectedSimdLevel()), true);
}  // namespace

}  // namespace wsedge::ws::detail
