#pragma once
// Base64 (RFC 4648 §4, standard alphabet, '=' padding) for the WebSocket
// handshake: Sec-WebSocket-Key must decode to 16 bytes and
// Sec-WebSocket-Accept is the base64 of a SHA-1 digest (RFC 6455 §4.2).
#include <optional>
#include <string>
#include <string_view>

namespace sb::util {

std::string base64Encode(std::string_view bytes);

// Strict decoding: the length must be a multiple of 4, padding only at the
// end (at most two '='), no whitespace or characters outside the alphabet.
// Non-zero bits in the unused low bits of the last symbol are tolerated
// (RFC 4648 §3.5 lets decoders choose). nullopt on any error.
std::optional<std::string> base64Decode(std::string_view text);

}  // namespace sb::util
