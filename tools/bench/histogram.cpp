#include "histogram.h"

#include <algorithm>
#include <cmath>

namespace sbbench {

void LatencyHistogram::merge(const LatencyHistogram& o) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
  total_ += o.total_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
}

double LatencyHistogram::mean() const {
  if (total_ == 0) return 0;
  long double sum = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    if (counts_[i]) sum += static_cast<long double>(counts_[i]) * value_of(i);
  }
  return double(sum / total_);
}

uint64_t LatencyHistogram::quantile(double q) const {
  if (total_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  uint64_t target = std::max<uint64_t>(1, uint64_t(std::ceil(q * double(total_))));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= target) return std::clamp(value_of(i), min(), max_);
  }
  return max_;
}

}  // namespace sbbench
