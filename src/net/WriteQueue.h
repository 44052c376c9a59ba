#pragma once
// The bounded queue of bytes a connection still has to send. Entries refer to
// shared buffers (no copy for fan-out); the flusher turns the queue into one
// writev per loop turn. An empty queue keeps its array while it is used at a
// steady size, so steady-state delivery does not allocate (a subscriber that
// gets 20 publications per loop turn reuses one array of 32 entries); the
// array is given back when a burst used little of it, or by trim() when the
// connection has been idle, so idle connections stay cheap.
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
  // Gives back an empty queue's array if it is larger than kRetained entries
  // (the owner calls this when the connection has been idle for a while).
  void trim();

  static constexpr size_t kRetained = 16;
  size_t capacity() const { return chunks_.capacity(); }

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
