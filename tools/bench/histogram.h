// Fixed-memory latency histogram in the spirit of HdrHistogram: values below
// 2^kSubBits ns are exact; above, each power of two is split into 2^(kSubBits-1)
// linear sub-buckets, so any recorded value is reported within ~0.4%. 60 KiB
// per instance, no allocation after construction, mergeable across threads.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace sbbench {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 8;
  static constexpr uint64_t kHalf = uint64_t(1) << (kSubBits - 1);
  static constexpr size_t kBuckets = size_t((64 - kSubBits + 1) * kHalf + kHalf);

  void record(uint64_t ns) {
    ++counts_[index_of(ns)];
    ++total_;
    if (ns < min_) min_ = ns;
    if (ns > max_) max_ = ns;
  }
  void merge(const LatencyHistogram& o);
  uint64_t count() const { return total_; }
  uint64_t min() const { return total_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const;
  // Value at quantile q in [0, 1] (e.g. 0.99), in ns; 0 when empty.
  uint64_t quantile(double q) const;

  static size_t index_of(uint64_t v) {
    if (v < 2 * kHalf) return size_t(v);
    int msb = 63 - std::countl_zero(v);
    int shift = msb - kSubBits + 1;
    return size_t(uint64_t(shift) * kHalf + (v >> shift));
  }
  // Representative value of a bucket: its midpoint.
  static uint64_t value_of(size_t idx) {
    if (idx < 2 * kHalf) return idx;
    uint64_t shift = idx / kHalf - 1;
    uint64_t top = idx - shift * kHalf;
    return (top << shift) + ((uint64_t(1) << shift) >> 1);
  }

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t total_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace sbbench
