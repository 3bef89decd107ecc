#include "proxy/ws/unmask.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "tests/support/simd_levels.h"

namespace wsedge::ws {
namespace {

using testing::SimdLevelTest;

std::vector<std::byte> referenceMask(const std::byte* src, std::size_t n, MaskKey key,
                                     std::size_t offset) {
  std::vector<std::byte> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = src[i] ^ std::byte{key[(offset + i) % 4]};
  return out;
}

class UnmaskLevel : public SimdLevelTest {};

TEST_P(UnmaskLevel, MatchesReferenceForEveryLengthOffsetAndAlignment) {
  std::mt19937_64 rng(42);
  std::vector<std::byte> pool(4096 + 128);
  for (auto& b : pool) b = std::byte(rng());
  const MaskKey key{0x37, 0xfa, 0x21, 0x3d};
  std::vector<std::byte> dst(pool.size());
  for (int round = 0; round < 600; ++round) {
    // Every length up to 300 covers all tails; then random lengths to 4096.
    const std::size_t n = round < 300 ? round : rng() % 4097;
    const std::size_t srcAlign = rng() % 64;
    const std::size_t dstAlign = rng() % 64;
    for (std::size_t offset = 0; offset < 4; ++offset) {
      const std::byte* src = pool.data() + srcAlign;
      const auto expected = referenceMask(src, n, key, offset);
      // Copying form.
      EXPECT_EQ(applyMaskCopy(dst.data() + dstAlign, {src, n}, key, offset), (offset + n) % 4);
      ASSERT_TRUE(std::equal(expected.begin(), expected.end(), dst.begin() + dstAlign))
          << "copy n=" << n << " offset=" << offset;
      // In-place form.
      std::vector<std::byte> inPlace(pool.begin() + srcAlign, pool.begin() + srcAlign + n);
      applyMask(inPlace, key, offset);
      ASSERT_EQ(inPlace, expected) << "in place n=" << n << " offset=" << offset;
    }
  }
}

TEST_P(UnmaskLevel, NeverWritesOutsideTheBuffer) {
  for (std::size_t n = 0; n <= 200; ++n) {
    std::vector<std::byte> buf(n + 128, std::byte{0xAA});
    applyMask(std::span(buf).subspan(64, n), MaskKey{1, 2, 3, 4}, 1);
    for (std::size_t i = 0; i < 64; ++i) ASSERT_EQ(buf[i], std::byte{0xAA});
    for (std::size_t i = 64 + n; i < buf.size(); ++i) ASSERT_EQ(buf[i], std::byte{0xAA}) << n;
  }
}

TEST_P(UnmaskLevel, StreamsAcrossBuffersSplitAnywhere) {
  std::mt19937 rng(7);
  std::vector<std::byte> data(1000);
  for (auto& b : data) b = std::byte(rng());
  const MaskKey key{0xde, 0xad, 0xbe, 0xef};
  const auto expected = referenceMask(data.data(), data.size(), key, 0);
  for (int trial = 0; trial < 200; ++trial) {
    auto work = data;
    std::size_t pos = 0;
    std::size_t offset = 0;
    while (pos < work.size()) {
      const std::size_t len = std::min<std::size_t>(rng() % 97, work.size() - pos);
      offset = applyMask(std::span(work).subspan(pos, len), key, offset);
      pos += len;
    }
    ASSERT_EQ(work, expected);
  }
}

INSTANTIATE_TEST_SUITE_P(AllLevels, UnmaskLevel, ::testing::ValuesIn(testing::allSimdLevels()),
                         testing::simdLevelParamName);

TEST(Unmask, Rfc6455Example) {
  // RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d.
  std::vector<std::byte> hello{std::byte{'H'}, std::byte{'e'}, std::byte{'l'}, std::byte{'l'},
                               std::byte{'o'}};
  applyMask(hello, MaskKey{0x37, 0xfa, 0x21, 0x3d});
  const std::vector<std::byte> expected{std::byte{0x7f}, std::byte{0x9f}, std::byte{0x4d},
                                        std::byte{0x51}, std::byte{0x58}};
  EXPECT_EQ(hello, expected);
}

TEST(SimdLevel, DetectsAndRefusesWhatTheCpuLacks) {
  const SimdLevel best = detectedSimdLevel();
  EXPECT_EQ(activeSimdLevel(), best);
  EXPECT_TRUE(forceSimdLevel(SimdLevel::kScalar));
  EXPECT_EQ(activeSimdLevel(), SimdLevel::kScalar);
  EXPECT_TRUE(forceSimdLevel(best));
  if (best != SimdLevel::kAvx512) {
    EXPECT_FALSE(forceSimdLevel(SimdLevel::kAvx512));
  }
}

}  // namespace
}  // namespace wsedge::ws
