#include "ws/FrameWriter.h"

#include "ws/CloseCode.h"
#include "ws/Utf8Validator.h"

namespace sb::ws {

size_t writeFrameHeader(uint8_t out[kMaxServerHeaderSize], Opcode op, uint64_t payloadLen, bool fin, bool rsv1) {
  out[0] = uint8_t((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (static_cast<uint8_t>(op) & 0x0F));
  if (payloadLen < 126) {
    out[1] = uint8_t(payloadLen);  // mask bit 0: server frames are unmasked
    return 2;
  }
  if (payloadLen <= 0xFFFF) {
    out[1] = 126;
    out[2] = uint8_t(payloadLen >> 8);
    out[3] = uint8_t(payloadLen);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i) out[2 + i] = uint8_t(payloadLen >> (56 - 8 * i));
  return 10;
}

std::string makeFrame(Opcode op, std::string_view payload, bool fin, bool rsv1) {
  uint8_t hdr[kMaxServerHeaderSize];
  size_t n = writeFrameHeader(hdr, op, payload.size(), fin, rsv1);
  std::string out;
  out.reserve(n + payload.size());
  out.append(reinterpret_cast<const char*>(hdr), n);
  out.append(payload);
  return out;
}

std::string makeClosePayload(uint16_t code, std::string_view reason) {
  if (!isSendableCloseCode(code)) return {};
  constexpr size_t kMaxReason = 125 - 2;  // §5.5: control payload <= 125 bytes
  // Longest prefix of at most kMaxReason bytes that ends on a character
  // boundary and contains only valid UTF-8 (a peer fails the connection with
  // 1007 on an invalid reason, §7.1.6 / §8.1).
  Utf8Validator v;
  size_t keep = 0;
  size_t limit = reason.size() < kMaxReason ? reason.size() : kMaxReason;
  for (size_t i = 0; i < limit; ++i) {
    if (!v.feed(reinterpret_cast<const uint8_t*>(reason.data()) + i, 1)) break;
    if (v.complete()) keep = i + 1;
  }
  std::string out;
  out.reserve(2 + keep);
  out.push_back(char(code >> 8));
  out.push_back(char(code & 0xFF));
  out.append(reason.substr(0, keep));
  return out;
}

}  // namespace sb::ws
