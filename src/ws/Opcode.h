#pragma once
// WebSocket frame opcodes (RFC 6455 §5.2, §11.8). Values 3-7 are reserved for
// further non-control frames and 11-15 for further control frames; receiving
// one of those fails the connection, so the enum only names the defined ones
// and parsers keep the raw 4-bit value until it has been checked.
#include <cstdint>

namespace sb::ws {

enum class Opcode : uint8_t {
  Continuation = 0x0,
  Text = 0x1,
  Binary = 0x2,
  Close = 0x8,
  Ping = 0x9,
  Pong = 0xA,
};

// Control frames are the ones with the high opcode bit set (RFC 6455 §5.5).
constexpr bool isControl(Opcode op) { return (static_cast<uint8_t>(op) & 0x8) != 0; }
constexpr bool isControlOpcode(uint8_t raw) { return (raw & 0x8) != 0; }

// True for the six opcodes RFC 6455 defines; anything else in the 4-bit field
// is reserved (§5.2: "_Fail the WebSocket Connection_" on an unknown opcode).
constexpr bool isKnownOpcode(uint8_t raw) { return raw <= 0x2 || (raw >= 0x8 && raw <= 0xA); }

constexpr const char* opcodeName(Opcode op) {
  switch (op) {
    case Opcode::Continuation: return "continuation";
    case Opcode::Text: return "text";
    case Opcode::Binary: return "binary";
    case Opcode::Close: return "close";
    case Opcode::Ping: return "ping";
    case Opcode::Pong: return "pong";
  }
  return "reserved";
}

}  // namespace sb::ws
