// LatencyHistogram: every reported figure against the exact answer from a
// sorted vector of the same values (within the histogram's stated ~0.4 %).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "histogram.h"

using namespace sbbench;

namespace {

// The value a quantile names: the ceil(q * n)-th smallest (at least the first).
uint64_t reference_quantile(const std::vector<uint64_t>& sorted, double q) {
  size_t rank = std::max<size_t>(1, size_t(std::ceil(q * double(sorted.size()))));
  return sorted[rank - 1];
}

// Values below 256 are exact; above, a bucket's midpoint is within 1/256.
void expect_close(uint64_t got, uint64_t want, const char* what) {
  uint64_t tolerance = want < 256 ? 0 : want / 256 + 1;
  uint64_t diff = got > want ? got - want : want - got;
  EXPECT_LE(diff, tolerance) << what << ": got " << got << ", want " << want;
}

constexpr double kQuantiles[] = {0.0, 0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0};

void expect_matches_reference(const LatencyHistogram& h, std::vector<uint64_t> values) {
  std::sort(values.begin(), values.end());
  ASSERT_EQ(h.count(), values.size());
  EXPECT_EQ(h.min(), values.front());
  EXPECT_EQ(h.max(), values.back());
  for (double q : kQuantiles) {
    SCOPED_TRACE(q);
    expect_close(h.quantile(q), reference_quantile(values, q), "quantile");
  }
  long double sum = 0;
  for (uint64_t v : values) sum += v;
  double mean = double(sum / values.size());
  EXPECT_NEAR(h.mean(), mean, mean / 256 + 1);
}

TEST(BenchHistogram, EmptyReportsZeros) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.quantile(0.5), 0u);
}

TEST(BenchHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  std::vector<uint64_t> values;
  for (uint64_t v = 0; v < 256; ++v) {
    for (uint64_t k = 0; k <= v % 3; ++k) {
      h.record(v);
      values.push_back(v);
    }
  }
  std::sort(values.begin(), values.end());
  for (double q : kQuantiles) EXPECT_EQ(h.quantile(q), reference_quantile(values, q)) << q;
}

TEST(BenchHistogram, LogUniformLatenciesMatchTheSortedReference) {
  std::mt19937_64 rng(2024);
  std::uniform_real_distribution<double> exponent(0, std::log(30e9));  // 1 ns .. 30 s
  LatencyHistogram h;
  std::vector<uint64_t> values;
  for (int k = 0; k < 200000; ++k) {
    uint64_t v = uint64_t(std::exp(exponent(rng)));
    h.record(v);
    values.push_back(v);
  }
  expect_matches_reference(h, values);
}

TEST(BenchHistogram, TightClusterWithATail) {
  // Typical delivery latencies: most near 80 us, a few at tens of ms.
  std::mt19937_64 rng(99);
  std::normal_distribution<double> body(80'000, 5'000);
  LatencyHistogram h;
  std::vector<uint64_t> values;
  for (int k = 0; k < 100000; ++k) {
    uint64_t v = k % 1000 == 0 ? 20'000'000 + uint64_t(k) * 100 : uint64_t(std::max(0.0, body(rng)));
    h.record(v);
    values.push_back(v);
  }
  expect_matches_reference(h, values);
}

TEST(BenchHistogram, MergeEqualsRecordingEverythingInOne) {
  std::mt19937_64 rng(5);
  LatencyHistogram a, b, all;
  std::vector<uint64_t> values;
  for (int k = 0; k < 50000; ++k) {
    uint64_t v = rng() % 5'000'000'000ull;
    (k % 3 ? a : b).record(v);
    all.record(v);
    values.push_back(v);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  for (double q : kQuantiles) EXPECT_EQ(a.quantile(q), all.quantile(q)) << q;
  expect_matches_reference(a, values);
  // Merging an empty histogram changes nothing, min included.
  a.merge(LatencyHistogram{});
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.count(), all.count());
}

TEST(BenchHistogram, BucketsCoverTheWholeRangeInOrder) {
  size_t last = 0;
  for (int bit = 0; bit < 64; ++bit) {
    for (uint64_t v : {uint64_t(1) << bit, (uint64_t(1) << bit) + (uint64_t(1) << bit) / 3, ~uint64_t(0) >> (63 - bit)}) {
      size_t idx = LatencyHistogram::index_of(v);
      ASSERT_LT(idx, LatencyHistogram::kBuckets) << v;
      EXPECT_GE(idx, LatencyHistogram::index_of(v / 2 + v / 4)) << v;
      expect_close(LatencyHistogram::value_of(idx), v, "bucket midpoint");
      last = std::max(last, idx);
    }
  }
  EXPECT_EQ(last, LatencyHistogram::kBuckets - 1);
}

}  // namespace
