#include "bench/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace wsedge::bench {
namespace {
// Values below 2048 have a bucket each; above, each power of two [2^k, 2^k+1)
// has 1024 buckets of width 2^(k-10).
constexpr std::uint64_t kLinear = 2048;
constexpr std::uint64_t kSub = 1024;
constexpr std::size_t kBuckets = kLinear + (42 - 11 + 1) * kSub;
}  // namespace

Histogram::Histogram() : counts_(kBuckets, 0) {}

std::size_t Histogram::indexOf(std::uint64_t v) {
  if (v < kLinear) return static_cast<std::size_t>(v);
  const int msb = 63 - std::countl_zero(v);  // >= 11
  const int shift = msb - 10;                // keeps the top 11 bits
  const std::uint64_t sub = v >> shift;      // in [1024, 2048)
  return static_cast<std::size_t>(kLinear + static_cast<std::uint64_t>(shift - 1) * kSub +
                                  (sub - kSub));
}

std::uint64_t Histogram::highestEquivalent(std::size_t index) {
  if (index < kLinear) return index;
  const std::uint64_t i = index - kLinear;
  const int shift = static_cast<int>(i / kSub) + 1;
  const std::uint64_t sub = i % kSub + kSub;
  return ((sub + 1) << shift) - 1;
}

void Histogram::record(std::uint64_t v) {
  if (v > kMaxValue) v = kMaxValue;
  ++counts_[indexOf(v)];
  ++count_;
  sum_ += v;
  min_ = std::min(min_, v);
  max_ = std::max(max_, v);
}

void Histogram::merge(const Histogram& o) {
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
}

void Histogram::reset() {
  *this = Histogram();
}

std::uint64_t Histogram::percentile(double p) const {
  if (count_ == 0) return 0;
  const double clamped = std::clamp(p, 0.0, 100.0);
  auto rank = static_cast<std::uint64_t>(std::ceil(clamped / 100.0 * static_cast<double>(count_)));
  rank = std::max<std::uint64_t>(rank, 1);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(highestEquivalent(i), max_);
  }
  return max_;
}

}  // namespace wsedge::bench
