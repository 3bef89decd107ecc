// Runtime choice of the SIMD implementation used by unmasking and UTF-8
// validation. The level is detected once with CPUID; tests and benchmarks may
// force a lower one to cover every implementation on one machine.
#pragma once

#include <cstdint>
#include <string_view>

namespace wsedge::ws {

enum class SimdLevel : std::uint8_t { kScalar = 0, kSse2 = 1, kAvx2 = 2, kAvx512 = 3 };

/// The best level this CPU supports (AVX-512 needs F, BW and VL).
SimdLevel detectedSimdLevel();

/// The level in use: the detected one unless forced.
SimdLevel activeSimdLevel();

/// Forces a level for unmasking and UTF-8 validation. Returns false, and
/// changes nothing, if the CPU lacks it. Call before worker threads start.
bool forceSimdLevel(SimdLevel level);

std::string_view simdLevelName(SimdLevel level);

}  // namespace wsedge::ws
