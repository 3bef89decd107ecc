// A latency histogram in the manner of HdrHistogram: log-linear buckets with
// 1024 linear sub-buckets per power of two, so every recorded value is kept
// to within 0.1% with constant-time recording and fixed memory. Debian ships
// no C or C++ HdrHistogram, so this is a small one of our own.
#pragma once

#include <cstdint>
#include <vector>

namespace wsedge::bench {

class Histogram {
 public:
  /// Values above the largest (about 73 minutes in nanoseconds) are clamped.
  static constexpr std::uint64_t kMaxValue = std::uint64_t{1} << 42;

  Histogram();
  void record(std::uint64_t value);
  void merge(const Histogram& other);
  void reset();

  std::uint64_t count() const { return count_; }
  std::uint64_t min() const { return count_ ? min_ : 0; }
  std::uint64_t max() const { return max_; }
  double mean() const {
    return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0;
  }
  /// The value at or below which `percentile` percent of the values lie:
  /// the highest value equivalent to the bucket holding the sample of rank
  /// ceil(percentile / 100 * count), never above max(). 0 when empty.
  std::uint64_t percentile(double percentile) const;

  static std::size_t indexOf(std::uint64_t value);
  static std::uint64_t highestEquivalent(std::size_t index);

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t min_ = ~std::uint64_t{0};
  std::uint64_t max_ = 0;
  std::uint64_t sum_ = 0;  // 2^64 ns is 584 years of summed latency
};

}  // namespace wsedge::bench
