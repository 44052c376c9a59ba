#include <gtest/gtest.h>

#include <string>

#include "net/WriteQueue.h"

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
