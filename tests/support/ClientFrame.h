#pragma once
// Builds client→server WebSocket frames (masked as RFC 6455 §5.3 requires, or
// deliberately malformed) for the unit tests of the frame parser and the
// protocol state machine.
#include <cstdint>
#include <string>

namespace sb::testsupport {

struct Mask {
  uint8_t k[4];
};
inline constexpr Mask kMask{{0x37, 0xfa, 0x21, 0x3d}};

// A client frame as a browser would send it.
inline std::string clientFrame(uint8_t opcode, const std::string& payload, bool fin = true, bool masked = true,
                        uint8_t rsv = 0, Mask mask = kMask, int forceLenBytes = 0) {
  std::string f;
  f += char((fin ? 0x80 : 0) | (rsv << 4) | opcode);
  uint8_t mbit = masked ? 0x80 : 0;
  uint64_t n = payload.size();
  if ((n < 126 && forceLenBytes == 0) || forceLenBytes == 1) {
    f += char(mbit | n);
  } else if ((n <= 0xFFFF && forceLenBytes == 0) || forceLenBytes == 2) {
    f += char(mbit | 126);
    f += char(n >> 8);
    f += char(n);
  } else {
    f += char(mbit | 127);
    for (int i = 7; i >= 0; --i) f += char(n >> (8 * i));
  }
  if (masked) {
    for (int i = 0; i < 4; ++i) f += char(mask.k[i]);
    for (size_t i = 0; i < payload.size(); ++i) f += char(payload[i] ^ mask.k[i % 4]);
  } else {
    f += payload;
  }
  return f;
}

}  // namespace sb::testsupport
