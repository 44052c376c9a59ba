#include "net/WriteQueue.h"

#include <algorithm>
#include <cstring>

namespace sb::net {

void WriteQueue::push(const SharedBuffer::Ref& buf, size_t offset, size_t len) {
  if (len == 0) return;
  buf->retain();
  chunks_.push_back(Chunk{buf.get(), uint32_t(offset), uint32_t(len)});
  bytes_ += len;
}

int WriteQueue::gather(struct iovec* iov, int max) const {
  int n = 0;
  for (size_t i = head_; i < chunks_.size() && n < max; ++i, ++n) {
    iov[n].iov_base = chunks_[i].buf->data() + chunks_[i].offset;
    iov[n].iov_len = chunks_[i].len;
  }
  return n;
}

size_t WriteQueue::copyHead(uint8_t* out, size_t max) const {
  size_t copied = 0;
  for (size_t i = head_; i < chunks_.size() && copied < max; ++i) {
    size_t take = std::min<size_t>(chunks_[i].len, max - copied);
    std::memcpy(out + copied, chunks_[i].buf->data() + chunks_[i].offset, take);
    copied += take;
  }
  return copied;
}

void WriteQueue::consume(size_t n) {
  bytes_ -= n;
  while (n > 0 && head_ < chunks_.size()) {
    Chunk& c = chunks_[head_];
    if (n >= c.len) {
      n -= c.len;
      c.buf->release();
      ++head_;
    } else {
      c.offset += uint32_t(n);
      c.len -= uint32_t(n);
      n = 0;
    }
  }
  if (head_ == chunks_.size()) {
    // The burst just sent used chunks_.size() entries. Keep an array the
    // bursts fill (regrowing it every loop turn was malloc/free per turn per
    // subscriber under steady fan-out); give back one a burst used less than
    // a quarter of, so one spike does not pin memory.
    const size_t used = chunks_.size();
    chunks_.clear();
    head_ = 0;
    if (chunks_.capacity() > kRetained && used * 4 < chunks_.capacity()) chunks_.shrink_to_fit();
  }
}

void WriteQueue::trim() {
  if (empty() && chunks_.capacity() > kRetained) {
    chunks_.clear();
    chunks_.shrink_to_fit();
    head_ = 0;
  }
}

void WriteQueue::clear() {
  for (size_t i = head_; i < chunks_.size(); ++i) chunks_[i].buf->release();
  chunks_.clear();
  chunks_.shrink_to_fit();
  head_ = 0;
  bytes_ = 0;
}

}  // namespace sb::net
