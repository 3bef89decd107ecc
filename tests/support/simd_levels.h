// Test support: run a check at every SIMD level this CPU has, restoring the
// detected level afterwards.
#pragma once

#include <gtest/gtest.h>

#include <vector>

#include "proxy/ws/simd_level.h"

namespace wsedge::testing {

inline std::vector<ws::SimdLevel> allSimdLevels() {
  return {ws::SimdLevel::kScalar, ws::SimdLevel::kSse2, ws::SimdLevel::kAvx2,
          ws::SimdLevel::kAvx512};
}

/// Parameterised tests over SIMD levels derive from this: it forces the level
/// or skips with a message when the CPU lacks it.
class SimdLevelTest : public ::testing::TestWithParam<ws::SimdLevel> {
 protected:
  void SetUp() override {
    if (!ws::forceSimdLevel(GetParam())) {
      GTEST_SKIP() << "CPU lacks " << ws::simdLevelName(GetParam());
    }
  }
  void TearDown() override { ws::forceSimdLevel(ws::detectedSimdLevel()); }
};

inline std::string simdLevelParamName(const ::testing::TestParamInfo<ws::SimdLevel>& info) {
  return std::string(ws::simdLevelName(info.param));
}

}  // namespace wsedge::testing
