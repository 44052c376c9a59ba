#pragma once
// How client-protocol messages travel over the HTTP-streaming transports, as
// centrifuge-js and Centrifugo frame them (pure functions, no I/O):
//
//   sse              every message is one SSE event: "data: <json>\n" per
//                    JSON line, then "\n" (EventSource joins the lines with
//                    '\n', which is the protocol's own separator);
//   http_stream      newline-delimited JSON: "<json>\n" per line;
//   uni_sse,         the same two framings, each push without its
//   uni_http_stream  {"push":...} envelope (Centrifugo's unidirectional
//                    transports send the Push object itself);
//   uni_websocket    one text message per push, without the envelope.
//
// The emulation transports take later commands through POST /emulation
// (parseEmulationRequest).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/Hub.h"
#include "net/SharedBuffer.h"

namespace sb::transport {

enum class StreamFraming : uint8_t { Sse, Ndjson };

// Appends `text` — newline-separated JSON replies/pushes, as ClientSession
// sends them — framed for the stream. `unwrap` strips each push's envelope
// (unidirectional transports); replies and "{}" pings pass as they are.
void appendFramed(std::string& out, StreamFraming framing, bool unwrap, std::string_view text);

// Fan-out encodings (core::EventEncoder: built once per event per worker by
// Hub::encoded and shared by every receiver). Each is the SSE event
// "data: <push>\n\n"; its bytes from kSseDataPrefix up to the last byte are
// "<push>\n", the newline-delimited line, so one buffer serves both
// framings (framedSlice).
net::SharedBuffer::Ref encodeEmulationEvent(const core::ChannelEvent& ev);  // with the envelope
net::SharedBuffer::Ref encodeUniEvent(const core::ChannelEvent& ev);        // without it
// The push without its envelope as one WebSocket text frame (uni_websocket).
net::SharedBuffer::Ref encodeUniWebSocketFrame(const core::ChannelEvent& ev);

inline constexpr size_t kSseDataPrefix = 6;  // "data: "

struct ByteRange {
  size_t offset;
  size_t length;
};
// The bytes of an encodeEmulationEvent/encodeUniEvent buffer of `size` bytes
// that `framing` sends.
inline ByteRange framedSlice(size_t size, StreamFraming framing) {
  if (framing == StreamFraming::Sse) return {0, size};
  return {kSseDataPrefix, size - kSseDataPrefix - 1};
}

// The body of POST /emulation (JSON protocol), as centrifuge-js sends it:
// {"session":"<id>","node":"<node id>","data":"<commands>"}, where `data`
// is a JSON string holding newline-separated commands.
struct EmulationRequest {
  std::string session;
  std::string node;  // empty when absent
  std::string data;
};
// Empty on success; otherwise why the body is not one (for a 400).
std::string parseEmulationRequest(std::string_view body, EmulationRequest& out);

// A new emulation session id in `out`: a random UUID v4 text (36
// characters) from OpenSSL's cryptographic generator. It is the only
// credential an /emulation request carries, so it must not be guessable
// (client ids are not secret: presence shows them to other users). False
// when the generator fails.
bool newEmulationSession(std::string& out);

}  // namespace sb::transport
