// Client side of RFC 6455, just what a load generator needs: the upgrade
// handshake (key, request, response check) and frame encode/decode. The
// decoder is streaming: it never needs a whole frame in memory, so one scratch
// read buffer per event loop serves every connection however reads fragment.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http_head.h"
#include "url.h"

namespace sbbench {

namespace opcode {
constexpr uint8_t kContinuation = 0x0;
constexpr uint8_t kText = 0x1;
constexpr uint8_t kBinary = 0x2;
constexpr uint8_t kClose = 0x8;
constexpr uint8_t kPing = 0x9;
constexpr uint8_t kPong = 0xA;
}  // namespace opcode

std::string base64_encode(std::span<const uint8_t> bytes);
// base64(SHA-1(key + RFC 6455 GUID)), via OpenSSL.
std::string ws_accept_for(std::string_view key);
// 16 random bytes, base64: a fresh Sec-WebSocket-Key.
std::string make_ws_key(uint64_t r1, uint64_t r2);

std::string build_upgrade_request(const WsUrl& url, std::string_view key, std::string_view subprotocol,
                                  const std::vector<std::string>& extra_headers);

// Checks "HTTP/1.1 101", Upgrade/Connection and Sec-WebSocket-Accept.
HttpHeadResult parse_upgrade_response(std::string_view buf, std::string_view expected_accept);

// Bytes of a masked client frame with a payload of `len` bytes.
constexpr size_t client_frame_size(size_t len) { return len + 4 + (len < 126 ? 2 : len <= 0xFFFF ? 4 : 10); }

// XORs `len` bytes of src with the 4-byte mask into dst (dst may equal src);
// `offset` is the position of src[0] in the payload (mask phase).
inline void mask_copy(uint8_t* dst, const uint8_t* src, size_t len, const uint8_t mask[4], size_t offset = 0) {
  uint8_t rot[4] = {mask[offset & 3], mask[(offset + 1) & 3], mask[(offset + 2) & 3], mask[(offset + 3) & 3]};
  uint64_t m64;
  std::memcpy(&m64, rot, 4);
  std::memcpy(reinterpret_cast<uint8_t*>(&m64) + 4, rot, 4);
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    std::memcpy(&w, src + i, 8);
    w ^= m64;
    std::memcpy(dst + i, &w, 8);
  }
  for (; i < len; ++i) dst[i] = src[i] ^ rot[i & 3];
}

// Writes a complete masked client frame into dst, which must hold
// client_frame_size(len) bytes. Returns bytes written.
inline size_t write_client_frame(uint8_t* dst, uint8_t op, bool fin, const uint8_t* payload, size_t len,
                                 uint32_t mask_word) {
  size_t n = 0;
  dst[n++] = uint8_t((fin ? 0x80 : 0) | (op & 0x0F));
  if (len < 126) {
    dst[n++] = uint8_t(0x80 | len);
  } else if (len <= 0xFFFF) {
    dst[n++] = 0x80 | 126;
    dst[n++] = uint8_t(len >> 8);
    dst[n++] = uint8_t(len);
  } else {
    dst[n++] = 0x80 | 127;
    for (int s = 56; s >= 0; s -= 8) dst[n++] = uint8_t(uint64_t(len) >> s);
  }
  uint8_t mask[4];
  std::memcpy(mask, &mask_word, 4);
  std::memcpy(dst + n, mask, 4);
  n += 4;
  mask_copy(dst + n, payload, len, mask);
  return n + len;
}

// Streaming decoder for server->client frames (which are never masked).
// Handler must provide:
//   void on_data(const uint8_t* p, size_t n);        // data payload chunk
//   void on_message_end(uint8_t opcode);              // FIN of a data message
//   void on_control(uint8_t opcode, const uint8_t* p, size_t n);  // ping/pong/close
class FrameDecoder {
 public:
  // Returns false on a protocol violation (see error()); the connection must go.
  template <class Handler>
  bool feed(const uint8_t* p, size_t n, Handler& h);
  const char* error() const { return error_; }
  void reset() { *this = FrameDecoder{}; }

 private:
  bool parse_header();

  std::array<uint8_t, 14> hdr_{};
  uint8_t hdr_len_ = 0;
  bool in_payload_ = false;
  bool fin_ = false;
  uint8_t op_ = 0;
  uint64_t remaining_ = 0;
  uint8_t msg_op_ = 0;         // opcode of the data message in progress
  bool in_message_ = false;    // between first fragment and FIN
  std::array<uint8_t, 125> ctl_{};
  uint8_t ctl_len_ = 0;
  const char* error_ = nullptr;
};

inline bool FrameDecoder::parse_header() {
  // Called whenever hdr_ grows; decides whether the header is complete.
  if (hdr_len_ < 2) return false;
  uint8_t b0 = hdr_[0], b1 = hdr_[1];
  size_t need = 2;
  uint8_t len7 = b1 & 0x7F;
  if (len7 == 126) need += 2;
  else if (len7 == 127) need += 8;
  if (b1 & 0x80) need += 4;
  if (hdr_len_ < need) return false;
  fin_ = b0 & 0x80;
  op_ = b0 & 0x0F;
  if (b0 & 0x70) { error_ = "RSV bits set without a negotiated extension"; return false; }
  if (b1 & 0x80) { error_ = "server sent a masked frame"; return false; }
  uint64_t len = len7;
  if (len7 == 126) len = (uint64_t(hdr_[2]) << 8) | hdr_[3];
  else if (len7 == 127) {
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | hdr_[2 + i];
    if (len >> 63) { error_ = "64-bit length with the top bit set"; return false; }
  }
  if (op_ >= 0x8) {
    if (op_ > opcode::kPong) { error_ = "reserved control opcode"; return false; }
    if (!fin_ || len > 125) { error_ = "fragmented or oversized control frame"; return false; }
    ctl_len_ = 0;
  } else if (op_ == opcode::kContinuation) {
    if (!in_message_) { error_ = "continuation frame without a message in progress"; return false; }
  } else if (op_ == opcode::kText || op_ == opcode::kBinary) {
    if (in_message_) { error_ = "new data frame inside a fragmented message"; return false; }
    in_message_ = true;
    msg_op_ = op_;
  } else {
    error_ = "reserved data opcode";
    return false;
  }
  remaining_ = len;
  in_payload_ = true;
  hdr_len_ = 0;
  return true;
}

template <class Handler>
bool FrameDecoder::feed(const uint8_t* p, size_t n, Handler& h) {
  while (true) {
    if (error_) return false;
    if (!in_payload_) {
      // Accumulate header bytes one step at a time (headers are <= 14 bytes).
      while (!in_payload_) {
        if (n == 0) return true;
        // Copy at most what the header could still need without overshooting.
        size_t want = hdr_len_ < 2 ? 2 - hdr_len_ : 1;
        if (hdr_len_ >= 2) {
          uint8_t len7 = hdr_[1] & 0x7F;
          size_t need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((hdr_[1] & 0x80) ? 4 : 0);
          want = need - hdr_len_;
        }
        size_t take = want < n ? want : n;
        std::memcpy(hdr_.data() + hdr_len_, p, take);
        hdr_len_ = uint8_t(hdr_len_ + take);
        p += take;
        n -= take;
        parse_header();
        if (error_) return false;
      }
    }
    // In payload (possibly empty).
    size_t take = remaining_ < n ? size_t(remaining_) : n;
    if (op_ >= 0x8) {
      std::memcpy(ctl_.data() + ctl_len_, p, take);
      ctl_len_ = uint8_t(ctl_len_ + take);
    } else if (take > 0) {
      h.on_data(p, take);
    }
    p += take;
    n -= take;
    remaining_ -= take;
    if (remaining_ != 0) return true;  // n == 0 here
    in_payload_ = false;
    if (op_ >= 0x8) {
      h.on_control(op_, ctl_.data(), ctl_len_);
    } else if (fin_) {
      in_message_ = false;
      h.on_message_end(msg_op_);
    }
    if (error_) return false;
  }
}

}  // namespace sbbench
