#pragma once
// Streaming parser for client-to-server WebSocket frames (RFC 6455 §5.2).
//
// The parser is push-based and never allocates or copies payload: bytes are
// fed in whatever pieces the socket produced and it reports three events to a
// handler, in order, for each frame:
//
//   bool onFrameHeader(const FrameHeader&)   once the whole header is in
//   bool onFramePayload(uint8_t* p, size_t)  zero or more times; the bytes are
//                                            already unmasked, in place, in the
//                                            caller's buffer (§5.3)
//   bool onFrameEnd()                        after the last payload byte (also
//                                            right after the header for a
//                                            zero-length payload)
//
// Any callback may return false to stop parsing immediately; feed() then
// reports Stopped and how many bytes it had consumed. The handler is a
// template parameter so the hot path inlines; no virtual calls.
//
// State is 32 bytes: the payload bytes still owed, the masking key and the
// position in it (a frame's payload can be split anywhere, so the key offset
// carries across chunks), and up to 14 bytes of a header that was split
// across reads, so the caller never has to stash partial input.
//
// The parser checks only what it must to keep framing: a 64-bit length with
// the most significant bit set is an error (§5.2 "the most significant bit
// MUST be 0"). Semantic rules (masking required, RSV bits, opcodes, control
// frame limits) are the handler's business: it sees every header field raw.
// Non-minimal length encodings are accepted, as most implementations do.
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace sb::ws {

struct FrameHeader {
  uint64_t length = 0;   // payload length in bytes
  uint8_t mask[4] = {};  // masking key, zeros when !masked
  uint8_t opcode = 0;    // raw 4-bit opcode; may be reserved, see isKnownOpcode()
  bool fin = false;
  bool rsv1 = false;
  bool rsv2 = false;
  bool rsv3 = false;
  bool masked = false;
};

// XORs `len` bytes with the 4-byte masking key, starting at key position
// `offset` (0..3) (RFC 6455 §5.3: octet i is XORed with key[i mod 4]).
// Word-at-a-time; `data` has no alignment requirement.
void applyMask(uint8_t* data, size_t len, const uint8_t key[4], size_t offset);

class FrameParser {
 public:
  static constexpr size_t kMaxHeaderSize = 14;  // 2 + 8 (64-bit length) + 4 (mask)

  enum class Status : uint8_t {
    Ok,       // all input consumed; feed more when it arrives
    Stopped,  // a handler callback returned false
    Error,    // invalid framing (64-bit length with the high bit set); stays failed
  };
  struct Result {
    Status status;
    size_t consumed;  // bytes of `data` used; for Stopped, up to the event that stopped
  };

  // Parses `len` bytes; payload bytes are unmasked in place in `data`.
  template <class Handler>
  Result feed(uint8_t* data, size_t len, Handler& h);

  // Back to "expecting a frame header", forgetting any partial frame.
  void reset() { *this = FrameParser(); }

  // True between frames (nothing of the next header has arrived yet and the
  // previous frame's end event has been delivered).
  bool atFrameBoundary() const { return state_ == kHeader && hdrLen_ == 0; }
  // Payload bytes of the current frame still to come.
  uint64_t payloadRemaining() const { return state_ == kPayload ? remaining_ : 0; }
  bool failed() const { return state_ == kError; }

  // Header size implied by its first two bytes.
  static size_t headerSize(uint8_t b1) {
    size_t n = 2 + ((b1 & 0x80) ? 4 : 0);
    uint8_t len7 = b1 & 0x7F;
    if (len7 == 126) n += 2;
    else if (len7 == 127) n += 8;
    return n;
  }

 private:
  enum : uint8_t { kHeader, kPayload, kError };

  // Decodes a complete header at `p`; false on a bad 64-bit length.
  static bool decodeHeader(const uint8_t* p, FrameHeader& out);

  uint64_t remaining_ = 0;            // payload bytes still owed
  uint8_t mask_[4] = {};              // current frame's masking key
  uint8_t hdr_[kMaxHeaderSize] = {};  // partial header carried between feeds
  uint8_t hdrLen_ = 0;                // bytes of it present
  uint8_t maskPos_ = 0;               // key offset of the next payload byte
  uint8_t state_ = kHeader;
  bool masked_ = false;
};

template <class Handler>
FrameParser::Result FrameParser::feed(uint8_t* data, size_t len, Handler& h) {
  size_t pos = 0;
  for (;;) {
    if (state_ == kHeader) {
      if (pos == len) return {Status::Ok, pos};
      const uint8_t* hp;
      size_t avail = len - pos;
      if (hdrLen_ == 0 && avail >= 2 && avail >= headerSize(data[pos + 1])) {
        // Common case: the whole header is contiguous in the input.
        hp = data + pos;
        pos += headerSize(data[pos + 1]);
      } else {
        // Header split across reads: collect it in hdr_ (at most 14 bytes).
        if (hdrLen_ < 2) {
          size_t take = avail < size_t(2 - hdrLen_) ? avail : size_t(2 - hdrLen_);
          std::memcpy(hdr_ + hdrLen_, data + pos, take);
          hdrLen_ += uint8_t(take);
          pos += take;
          avail -= take;
          if (hdrLen_ < 2) return {Status::Ok, pos};
        }
        size_t need = headerSize(hdr_[1]) - hdrLen_;
        size_t take = avail < need ? avail : need;
        std::memcpy(hdr_ + hdrLen_, data + pos, take);
        hdrLen_ += uint8_t(take);
        pos += take;
        if (take < need) return {Status::Ok, pos};
        hp = hdr_;
        hdrLen_ = 0;
      }
      FrameHeader fh;
      if (!decodeHeader(hp, fh)) {
        state_ = kError;
        return {Status::Error, pos};
      }
      std::memcpy(mask_, fh.mask, 4);
      masked_ = fh.masked;
      maskPos_ = 0;
      remaining_ = fh.length;
      state_ = kPayload;
      if (!h.onFrameHeader(fh)) return {Status::Stopped, pos};
      // A zero-length frame goes straight on to its end event below.
    } else if (state_ == kPayload) {
      if (remaining_ > 0) {
        size_t avail = len - pos;
        if (avail == 0) return {Status::Ok, pos};
        size_t n = remaining_ < avail ? size_t(remaining_) : avail;
        uint8_t* p = data + pos;
        if (masked_) applyMask(p, n, mask_, maskPos_);
        maskPos_ = uint8_t((maskPos_ + n) & 3);
        remaining_ -= n;
        pos += n;
        // If this stops us with remaining_ == 0, the end event is still
        // pending and fires on the next feed().
        if (!h.onFramePayload(p, n)) return {Status::Stopped, pos};
        if (remaining_ > 0) return {Status::Ok, pos};  // all input used
      }
      state_ = kHeader;
      if (!h.onFrameEnd()) return {Status::Stopped, pos};
    } else {
      return {Status::Error, 0};
    }
  }
}

}  // namespace sb::ws
