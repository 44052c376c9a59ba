#pragma once
// Server-to-client frame construction (RFC 6455 §5.2). Server frames are never
// masked (§5.1), so a header is 2, 4 or 10 bytes and the payload follows as is.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ws/Opcode.h"

namespace sb::ws {

inline constexpr size_t kMaxServerHeaderSize = 10;

// Writes the header of an unmasked frame into `out` using the minimal length
// encoding (7-bit up to 125, 16-bit up to 65535, else 64-bit). Returns the
// header size (2, 4 or 10).
size_t writeFrameHeader(uint8_t out[kMaxServerHeaderSize], Opcode op, uint64_t payloadLen, bool fin = true,
                        bool rsv1 = false);

// Header + payload in one string (tests, small control frames, fan-out
// buffers built once).
std::string makeFrame(Opcode op, std::string_view payload, bool fin = true, bool rsv1 = false);

// Close frame body (§5.5.1): 2-byte big-endian code + UTF-8 reason. The reason
// is cut to fit the 125-byte control payload limit, on a character boundary,
// and never contains invalid UTF-8 (it stops at the first invalid byte). The
// pseudo-codes that must not appear on the wire (1005, 1006, 1015 and anything
// outside the valid ranges, §7.4.1) produce an empty body, i.e. "no status".
std::string makeClosePayload(uint16_t code, std::string_view reason);

}  // namespace sb::ws
