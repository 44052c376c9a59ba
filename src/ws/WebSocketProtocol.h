#pragma once
// The message layer of RFC 6455 (plus RFC 7692 permessage-deflate) for the
// server side, as a pure state machine: bytes in, events out through a
// Handler, no I/O, no timers, no exceptions.
//
// What it enforces (each violation fails the connection: a Close frame with
// the code and a short reason is queued, then onClosed() fires):
//   1002 ProtocolError   unmasked client frame (§5.1); RSV2/RSV3 set; RSV1 without
//                        negotiated deflate, or on a control or continuation frame
//                        (§5.2, RFC 7692 §6); reserved opcode (§5.2); control frame
//                        fragmented or > 125 bytes (§5.5); continuation with no
//                        message, or a new message inside a fragmented one (§5.4);
//                        Close with a 1-byte body or an invalid code (§5.5.1, §7.4);
//                        64-bit length with the high bit set
//   1007 InvalidPayload  invalid UTF-8 in a text message, detected at the first bad
//                        byte (even mid-frame, after inflation) or a sequence left
//                        open at the end of the message (§8.1); invalid UTF-8 in a
//                        Close reason; corrupt deflate data
//   1009 MessageTooBig   message (sum of fragments; inflated size when compressed)
//                        over Options::max_message_size, detected from the frame
//                        header's declared length before the payload arrives
//
// Memory: a complete, unfragmented, uncompressed message that arrives within
// one feed() is handed to onMessage() straight from the caller's buffer (zero
// copy). Anything else is accumulated in a string allocated on demand and freed
// once the message is delivered, so an idle connection holds no heap memory.
// sizeof(WebSocketProtocol) <= 128 (static_assert in the .cpp).
//
// Re-entrancy: handler callbacks may call close() on this object; they must
// not destroy it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ws/FrameParser.h"
#include "ws/Opcode.h"
#include "ws/Utf8Validator.h"

namespace sb::ws {

class Inflater;

class WebSocketProtocol {
 public:
  struct Options {
    size_t max_message_size = 64 * 1024;
  };

  class Handler {  // implemented by the connection; the protocol never does I/O
   public:
    virtual ~Handler() = default;
    // A complete text (already UTF-8 validated) or binary message (already
    // inflated). The view is valid only during the call.
    virtual void onMessage(Opcode op, std::string_view payload) = 0;
    // Queue one complete unmasked server frame (the protocol calls it for
    // pong and close frames only).
    virtual void writeFrame(Opcode op, std::string_view payload) = 0;
    // The closing handshake finished or the connection failed: flush what is
    // queued and close TCP. Called exactly once. `code` is the peer's status
    // (1005 NoStatus when its Close frame had no body) or, on failure, the
    // code we sent.
    virtual void onClosed(uint16_t code, std::string_view reason) = 0;
    virtual void onPing(std::string_view) {}  // after the pong was queued
    virtual void onPong(std::string_view) {}
  };

  // `inflater` is nullptr when permessage-deflate was not negotiated; it must
  // outlive this object.
  WebSocketProtocol(const Options& opts, Inflater* inflater);

  // Feeds received bytes; `data` is writable (unmasked in place). Returns
  // false once closed: the caller discards any further input.
  bool feed(uint8_t* data, size_t len, Handler& h);

  // Server-initiated close (§7.1.2): queues a Close frame and waits for the
  // peer's Close, which completes the handshake and fires onClosed() (no
  // second Close frame is sent). Data frames arriving meanwhile are ignored.
  // No-op when a Close was already sent or the connection is closed.
  void close(uint16_t code, std::string_view reason, Handler& h);

  // A Close frame was sent and the peer's is awaited.
  bool closing() const { return closeSent_ && !closed_; }
  bool closed() const { return closed_; }

  // Heap bytes currently held for message reassembly (0 when idle).
  size_t bufferedCapacity() const;

 private:
  struct Events;  // adapts FrameParser events to the methods below
  friend struct Events;

  bool onFrameHeader(const FrameHeader& f, Handler& h);
  bool onFramePayload(uint8_t* p, size_t n, Handler& h);
  bool onFrameEnd(Handler& h);
  bool handleControl(std::string_view payload, Handler& h);
  bool handleClose(std::string_view payload, Handler& h);
  bool appendData(const uint8_t* p, size_t n, Handler& h);
  bool fail(uint16_t code, std::string_view reason, Handler& h);
  void finish(uint16_t code, std::string_view reason, Handler& h);
  void releaseBuffer();
  uint64_t messageWireLimit() const;

  // Sized for many idle connections: flags are bits, the limit 32 bits.
  std::string buf_;          // message reassembly; a split control payload is appended at its tail
  Inflater* inflater_;       // non-null when permessage-deflate was negotiated
  uint64_t msgWire_ = 0;     // declared payload bytes of the current message's frames so far
  FrameParser parser_;
  Utf8Validator utf8_;       // state of the text message in progress
  uint8_t frameOp_ = 0;      // raw opcode of the frame being parsed
  uint8_t msgOp_ = 0;        // Text or Binary of the message in progress
  uint8_t ctrlLen_ = 0;      // declared payload length of the control frame being parsed (<= 125)
  uint8_t ctrlBuffered_ = 0; // bytes of that payload appended to buf_
  bool frameFin_ : 1 = false;
  bool frameFirstChunk_ : 1 = false;  // no payload of the current frame seen yet
  bool frameDirect_ : 1 = false;      // whole-message frame eligible for zero-copy delivery
  bool frameHandled_ : 1 = false;     // payload already processed straight from the input
  bool msgActive_ : 1 = false;        // a data message has started and not finished
  bool msgCompressed_ : 1 = false;    // RSV1 was set on its first frame (RFC 7692 §6)
  bool closeSent_ : 1 = false;
  bool closed_ : 1 = false;
  uint32_t maxMessage_;      // Options::max_message_size (clamped to 4 GiB - 1)
};

}  // namespace sb::ws
