// Publisher::target_channel: which channel publication n goes to. fanout's
// expected-delivery count rests on it, so the spread must be exact:
// round-robin, or with shared_every = S every S-th publication to the last
// (shared) channel and the rest round-robin over the others.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "publisher.h"

using namespace sbbench;

namespace {

std::vector<uint32_t> targets(uint64_t first, uint64_t last, size_t channels, uint64_t shared_every) {
  std::vector<uint32_t> out;
  for (uint64_t seq = first; seq <= last; ++seq) out.push_back(Publisher::target_channel(seq, channels, shared_every));
  return out;
}

TEST(BenchPublisher, RoundRobinFromTheFirstChannel) {
  EXPECT_EQ(targets(1, 9, 4, 0), (std::vector<uint32_t>{0, 1, 2, 3, 0, 1, 2, 3, 0}));
  EXPECT_EQ(targets(1, 5, 1, 0), (std::vector<uint32_t>{0, 0, 0, 0, 0}));
  EXPECT_EQ(targets(1, 4, 1, 3), (std::vector<uint32_t>{0, 0, 0, 0}));
  static_assert(Publisher::target_channel(1, 3, 0) == 0 && Publisher::target_channel(3, 3, 0) == 2);
}

TEST(BenchPublisher, EverySthToTheSharedChannel) {
  // K = 3 own channels (0..2) and the shared one (3), S = 3.
  EXPECT_EQ(targets(1, 12, 4, 3), (std::vector<uint32_t>{0, 1, 3, 2, 0, 3, 1, 2, 3, 0, 1, 3}));
  // S = 1: everything to the shared channel.
  EXPECT_EQ(targets(1, 5, 3, 1), (std::vector<uint32_t>{2, 2, 2, 2, 2}));
}

TEST(BenchPublisher, SharedEveryKeepsTheOthersStrictlyRoundRobin) {
  for (size_t channels : {2u, 3u, 11u, 101u}) {
    for (uint64_t every : {2u, 7u, 100u}) {
      SCOPED_TRACE(testing::Message() << channels << " channels, every " << every);
      const uint64_t n = every * (channels - 1) * 5;
      std::vector<uint64_t> per_channel(channels, 0);
      uint32_t next_other = 0;
      for (uint64_t seq = 1; seq <= n; ++seq) {
        uint32_t t = Publisher::target_channel(seq, channels, every);
        ASSERT_LT(t, channels);
        ++per_channel[t];
        if (seq % every == 0) {
          ASSERT_EQ(t, channels - 1) << seq;
        } else {
          ASSERT_EQ(t, next_other) << seq;
          next_other = uint32_t((next_other + 1) % (channels - 1));
        }
      }
      EXPECT_EQ(per_channel[channels - 1], n / every);
      for (size_t j = 0; j + 1 < channels; ++j) EXPECT_EQ(per_channel[j], (n - n / every) / (channels - 1)) << j;
    }
  }
}

TEST(BenchPublisher, SequenceContinuesAcrossRuns) {
  // Steps continue the sequence numbers; the spread does not restart.
  EXPECT_EQ(targets(1001, 1004, 4, 0), (std::vector<uint32_t>{0, 1, 2, 3}));
  // 99 publications before 101 went to the 10 others: 101 goes to 99 mod 10.
  EXPECT_EQ(targets(100, 101, 11, 100), (std::vector<uint32_t>{10, 9}));
}

}  // namespace
