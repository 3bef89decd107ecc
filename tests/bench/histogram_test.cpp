#include "bench/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace wsedge::bench {
namespace {

// The exact value of rank ceil(p/100 * n) in a sorted array: the reference.
std::uint64_t exactPercentile(std::vector<std::uint64_t> v, double p) {
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  rank = std::max<std::size_t>(rank, 1);
  return v[rank - 1];
}

TEST(Histogram, PercentilesMatchASortedArrayWithin0_1Percent) {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<std::uint64_t> values;
    Histogram h;
    const int n = 1 + static_cast<int>(rng() % 20000);
    for (int i = 0; i < n; ++i) {
      // Log-uniform from 1 ns to about 10 s.
      const double e = std::uniform_real_distribution<double>(0, 10)(rng);
      const auto v = static_cast<std::uint64_t>(std::pow(10.0, e));
      values.push_back(v);
      h.record(v);
    }
    for (double p : {0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
      const std::uint64_t exact = exactPercentile(values, p);
      const std::uint64_t got = h.percentile(p);
      EXPECT_GE(got, exact) << "p" << p;  // the bucket's highest equivalent value
      EXPECT_LE(static_cast<double>(got), static_cast<double>(exact) * 1.001 + 1) << "p" << p;
    }
    EXPECT_EQ(h.count(), static_cast<std::uint64_t>(n));
    EXPECT_EQ(h.max(), *std::max_element(values.begin(), values.end()));
    EXPECT_EQ(h.min(), *std::min_element(values.begin(), values.end()));
  }
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  for (std::uint64_t v = 0; v < 2048; ++v) h.record(v);
  EXPECT_EQ(h.percentile(50), 1023u);
  EXPECT_EQ(h.percentile(100), 2047u);
  EXPECT_EQ(h.percentile(0), 0u);
}

TEST(Histogram, BucketsCoverEveryValueInOrder) {
  std::mt19937_64 rng(5);
  for (int i = 0; i < 100000; ++i) {
    const std::uint64_t v = rng() % Histogram::kMaxValue;
    const std::size_t idx = Histogram::indexOf(v);
    ASSERT_GE(Histogram::highestEquivalent(idx), v);
    if (idx > 0) {
      ASSERT_LT(Histogram::highestEquivalent(idx - 1), v);
    }
  }
}

TEST(Histogram, MergeEqualsRecordingEverything) {
  Histogram a, b, all;
  for (std::uint64_t v = 1; v < 100000; v += 7) {
    (v % 2 ? a : b).record(v * 13);
    all.record(v * 13);
  }
  a.merge(b);
  for (double p : {10.0, 50.0, 99.0, 100.0}) EXPECT_EQ(a.percentile(p), all.percentile(p));
  EXPECT_EQ(a.count(), all.count());
  EXPECT_DOUBLE_EQ(a.mean(), all.mean());
}

TEST(Histogram, EmptyAndHuge) {
  Histogram h;
  EXPECT_EQ(h.percentile(99), 0u);
  h.record(~std::uint64_t{0});
  EXPECT_EQ(h.max(), Histogram::kMaxValue) << "clamped";
}

}  // namespace
}  // namespace wsedge::bench
