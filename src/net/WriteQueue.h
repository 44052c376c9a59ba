#pragma once
// The bounded queue of bytes a connection still has to send. Entries refer to
// shared buffers (no copy for fan-out); the flusher turns the queue into one
// writev per loop turn. An empty queue owns no heap memory beyond a small
// retained array, so idle connections stay cheap and steady-state delivery
// does not allocate.
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "net/SharedBuffer.h"

namespace sb::net {

class WriteQueue {
 public:
  WriteQueue() = default;
  WriteQueue(const WriteQueue&) = delete;
  WriteQueue& operator=(const WriteQueue&) = delete;
  ~WriteQueue() { clear(); }

  // Queues bytes [offset, offset+len) of `buf`, taking a reference.
  void push(const SharedBuffer::Ref& buf, size_t offset, size_t len);
  // Fills up to `max` iovecs from the head; returns how many.
  int gather(struct iovec* iov, int max) const;
  // Drops `n` bytes from the head (after a successful write).
  void consume(size_t n);
  void clear();

  size_t bytes() const { return bytes_; }
  bool empty() const { return bytes_ == 0 && head_ == chunks_.size(); }

  // Copies the head bytes (up to `max`) into `out` for writers that cannot use
  // iovecs (TLS); returns the count copied.
  size_t copyHead(uint8_t* out, size_t max) const;

 private:
  struct Chunk {
    SharedBuffer* buf;
    uint32_t offset;
    uint32_t len;
  };
  std::vector<Chunk> chunks_;
  size_t head_ = 0;
  size_t bytes_ = 0;
};

}  // namespace sb::net
