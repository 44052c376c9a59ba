#include <gtest/gtest.h>

#include <string>

#include "net/WriteQueue.h"
#include "../support/AllocationCounter.h"

using sb::net::SharedBuffer;
using sb::net::WriteQueue;

static std::string drain(WriteQueue& q, size_t step) {
  std::string out;
  while (!q.empty()) {
    struct iovec iov[4];
    int n = q.gather(iov, 4);
    size_t budget = step, took = 0;
    for (int i = 0; i < n && budget; ++i) {
      size_t t = std::min(budget, iov[i].iov_len);
      out.append(static_cast<const char*>(iov[i].iov_base), t);
      budget -= t;
      took += t;
    }
    q.consume(took);
  }
  return out;
}

TEST(WriteQueue, SharesBuffersAndCountsBytes) {
  auto buf = SharedBuffer::copyOf("hello world");
  WriteQueue a, b;
  a.push(buf, 0, buf->size());
  b.push(buf, 6, 5);
  EXPECT_EQ(a.bytes(), 11u);
  EXPECT_EQ(b.bytes(), 5u);
  EXPECT_EQ(drain(a, 3), "hello world");
  EXPECT_EQ(drain(b, 100), "world");
  EXPECT_TRUE(a.empty());
}

TEST(WriteQueue, PartialWritesAcrossChunks) {
  WriteQueue q;
  for (int i = 0; i < 10; ++i) q.push(SharedBuffer::copyOf(std::to_string(i) + "abc"), 0, 4);
  EXPECT_EQ(q.bytes(), 40u);
  std::string got = drain(q, 7);
  EXPECT_EQ(got, "0abc1abc2abc3abc4abc5abc6abc7abc8abc9abc");
}

TEST(WriteQueue, CopyHeadForTls) {
  WriteQueue q;
  q.push(SharedBuffer::copyOf("abc"), 0, 3);
  q.push(SharedBuffer::copyOf("defgh"), 1, 3);
  uint8_t out[16];
  size_t n = q.copyHead(out, sizeof out);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(out), n), "abcefg");
  n = q.copyHead(out, 4);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(out), n), "abce");
}

TEST(WriteQueue, ClearReleasesReferences) {
  auto buf = SharedBuffer::copyOf("x");
  {
    WriteQueue q;
    q.push(buf, 0, 1);
    q.push(buf, 0, 1);
    EXPECT_EQ(buf->refCount(), 3u);  // ours + one per queued chunk
    q.consume(1);
    EXPECT_EQ(buf->refCount(), 2u);  // a fully written chunk lets go at once
  }
  EXPECT_EQ(buf->refCount(), 1u);  // the destructor released the rest
}

// Steady fan-out pushes a burst of publications to a subscriber every loop
// turn and sends it all: after the first burst that must not allocate (it used
// to regrow the array from nothing on every turn).
TEST(WriteQueue, SteadyBurstsDoNotAllocate) {
  auto buf = SharedBuffer::copyOf("0123456789");
  WriteQueue q;
  auto burst = [&](int n) {  // queue n, then send it all the way the flusher does
    for (int i = 0; i < n; ++i) q.push(buf, 0, buf->size());
    size_t sent = 0;
    while (!q.empty()) {
      struct iovec iov[8];
      int k = q.gather(iov, 8);
      size_t bytes = 0;
      for (int j = 0; j < k; ++j) bytes += iov[j].iov_len;
      q.consume(bytes);
      sent += bytes;
    }
    EXPECT_EQ(sent, size_t(n) * 10);
  };
  burst(20);  // sizes the array
  sb::test::AllocationCounter::start();
  for (int turn = 0; turn < 100; ++turn) burst(20);
  EXPECT_EQ(sb::test::AllocationCounter::stop(), 0u);
  EXPECT_GE(q.capacity(), 20u);

  // A burst using under a quarter of a large array gives it back…
  for (int i = 0; i < 200; ++i) q.push(buf, 0, buf->size());
  drain(q, 1 << 20);
  EXPECT_GE(q.capacity(), 200u);
  burst(3);
  EXPECT_LE(q.capacity(), WriteQueue::kRetained);

  // …and trim() gives back a large one when the connection goes quiet, but
  // never while bytes are queued.
  burst(40);
  EXPECT_GE(q.capacity(), 40u);
  q.push(buf, 0, buf->size());
  q.trim();
  EXPECT_GE(q.capacity(), 40u);
  drain(q, 1 << 20);
  q.trim();
  EXPECT_EQ(q.capacity(), 0u);
  burst(2);
  EXPECT_EQ(drain(q, 1 << 20), "");
}
