#include "ws/FrameParser.h"

namespace sb::ws {

static_assert(sizeof(FrameParser) <= 32, "FrameParser is per connection; keep it small");

void applyMask(uint8_t* data, size_t len, const uint8_t key[4], size_t offset) {
  offset &= 3;
  // Rotate the key so that rotated[0] applies to data[0].
  uint8_t k[8];
  for (size_t i = 0; i < 8; ++i) k[i] = key[(offset + i) & 3];
  size_t i = 0;
  if (len >= 8) {
    uint64_t kw;
    std::memcpy(&kw, k, 8);  // byte order matches memory order, so no endianness issue
    for (; len - i >= 8; i += 8) {
      uint64_t w;
      std::memcpy(&w, data + i, 8);
      w ^= kw;
      std::memcpy(data + i, &w, 8);
    }
  }
  // i is a multiple of 8, hence of 4: the key phase is unchanged for the tail.
  for (; i < len; ++i) data[i] ^= k[i & 3];
}

bool FrameParser::decodeHeader(const uint8_t* p, FrameHeader& out) {
  out.fin = (p[0] & 0x80) != 0;
  out.rsv1 = (p[0] & 0x40) != 0;
  out.rsv2 = (p[0] & 0x20) != 0;
  out.rsv3 = (p[0] & 0x10) != 0;
  out.opcode = p[0] & 0x0F;
  out.masked = (p[1] & 0x80) != 0;
  uint8_t len7 = p[1] & 0x7F;
  size_t off = 2;
  if (len7 < 126) {
    out.length = len7;
  } else if (len7 == 126) {
    out.length = (uint64_t(p[2]) << 8) | p[3];  // §5.2: 16-bit network byte order
    off = 4;
  } else {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | p[2 + i];
    if (v >> 63) return false;  // §5.2: the most significant bit MUST be 0
    out.length = v;
    off = 10;
  }
  if (out.masked) std::memcpy(out.mask, p + off, 4);
  else std::memset(out.mask, 0, 4);
  return true;
}

}  // namespace sb::ws
