#include "ws/WebSocketProtocol.h"

#include <algorithm>
#include <limits>

#include "ws/CloseCode.h"
#include "ws/FrameWriter.h"
#include "ws/PerMessageDeflate.h"

namespace sb::ws {

static_assert(sizeof(WebSocketProtocol) <= 96, "one per connection: bench/profiles.md, idle memory");

struct WebSocketProtocol::Events {
  WebSocketProtocol& self;
  Handler& h;
  bool onFrameHeader(const FrameHeader& f) { return self.onFrameHeader(f, h); }
  bool onFramePayload(uint8_t* p, size_t n) { return self.onFramePayload(p, n, h); }
  bool onFrameEnd() { return self.onFrameEnd(h); }
};

WebSocketProtocol::WebSocketProtocol(const Options& opts, Inflater* inflater)
    : inflater_(inflater),
      maxMessage_(uint32_t(std::min<size_t>(opts.max_message_size, std::numeric_limits<uint32_t>::max()))) {}

size_t WebSocketProtocol::bufferedCapacity() const {
  // An empty std::string uses its inline buffer; report heap only.
  return buf_.capacity() > std::string().capacity() ? buf_.capacity() : 0;
}

bool WebSocketProtocol::feed(uint8_t* data, size_t len, Handler& h) {
  if (closed_) return false;
  Events ev{*this, h};
  FrameParser::Result r = parser_.feed(data, len, ev);
  if (r.status == FrameParser::Status::Error) fail(close_code::ProtocolError, "invalid 64-bit frame length", h);
  return !closed_;
}

void WebSocketProtocol::close(uint16_t code, std::string_view reason, Handler& h) {
  if (closed_ || closeSent_) return;
  closeSent_ = true;
  h.writeFrame(Opcode::Close, makeClosePayload(code, reason));
  // buf_ is not released here: we may be inside a callback that holds a view
  // into it. It is dropped at the next frame header or when closed.
}

uint64_t WebSocketProtocol::messageWireLimit() const {
  // Compressed payload is inflated as it arrives, never buffered, and the
  // inflated size is what max_message_size bounds. Incompressible data grows a
  // little when deflated (stored-block headers), so the wire bytes of a
  // compressed message get some slack above the limit.
  uint64_t m = maxMessage_;
  if (!msgCompressed_) return m;
  uint64_t slack = m / 8 + 1024;
  return m > std::numeric_limits<uint64_t>::max() - slack ? std::numeric_limits<uint64_t>::max() : m + slack;
}

bool WebSocketProtocol::onFrameHeader(const FrameHeader& f, Handler& h) {
  using namespace close_code;
  if (!f.masked) return fail(ProtocolError, "client frame not masked", h);         // §5.1
  if (f.rsv2 || f.rsv3) return fail(ProtocolError, "reserved bit RSV2/RSV3 set", h);  // §5.2
  if (!isKnownOpcode(f.opcode)) return fail(ProtocolError, "reserved opcode", h);   // §5.2
  frameOp_ = f.opcode;
  frameFin_ = f.fin;
  frameFirstChunk_ = true;
  frameDirect_ = false;
  frameHandled_ = false;

  if (isControlOpcode(f.opcode)) {
    // §5.5: control frames are never fragmented and carry at most 125 bytes;
    // RFC 7692 §6.1: permessage-deflate never applies to them.
    if (!f.fin) return fail(ProtocolError, "fragmented control frame", h);
    if (f.length > 125) return fail(ProtocolError, "control frame payload over 125 bytes", h);
    if (f.rsv1) return fail(ProtocolError, "RSV1 set on a control frame", h);
    ctrlLen_ = uint8_t(f.length);
    ctrlBuffered_ = 0;
    return true;
  }

  if (f.opcode == uint8_t(Opcode::Continuation)) {
    if (!msgActive_) return fail(ProtocolError, "continuation frame without a message in progress", h);  // §5.4
    if (f.rsv1) return fail(ProtocolError, "RSV1 set on a continuation frame", h);  // RFC 7692 §6.1
  } else {
    if (msgActive_) return fail(ProtocolError, "new message inside a fragmented message", h);  // §5.4
    if (f.rsv1 && !inflater_) return fail(ProtocolError, "RSV1 set without permessage-deflate", h);  // §5.2
    msgActive_ = true;
    msgOp_ = f.opcode;
    msgCompressed_ = f.rsv1;
    msgWire_ = 0;
    utf8_.reset();
  }

  if (closeSent_) {
    // We are closing: data is ignored (§7.1.2 lets us stop processing it),
    // only the structure is still checked above.
    releaseBuffer();
    return true;
  }

  // Reject an oversized message from the declared length, before any of its
  // payload arrives (msgWire_ <= limit always holds, so no underflow).
  uint64_t limit = messageWireLimit();
  if (f.length > limit - msgWire_) return fail(MessageTooBig, "message too big", h);
  msgWire_ += f.length;
  frameDirect_ = f.fin && f.opcode != uint8_t(Opcode::Continuation) && !f.rsv1;
  return true;
}

bool WebSocketProtocol::onFramePayload(uint8_t* p, size_t n, Handler& h) {
  bool first = frameFirstChunk_;
  frameFirstChunk_ = false;

  if (isControlOpcode(frameOp_)) {
    if (first && n == ctrlLen_) {  // whole control payload in hand: no copy
      frameHandled_ = true;
      return handleControl(std::string_view(reinterpret_cast<const char*>(p), n), h);
    }
    // Split across reads: park it after the message bytes (if any) in buf_;
    // control frames only appear between data frames, so they never mix.
    buf_.append(reinterpret_cast<const char*>(p), n);
    ctrlBuffered_ = uint8_t(ctrlBuffered_ + n);
    return true;
  }

  if (closeSent_) return true;  // closing: data ignored

  if (frameDirect_ && first && n == msgWire_) {
    // Zero copy: an entire unfragmented, uncompressed message in one chunk.
    if (msgOp_ == uint8_t(Opcode::Text) && !Utf8Validator::isValid(p, n))
      return fail(close_code::InvalidPayload, "invalid UTF-8 in text message", h);
    frameHandled_ = true;
    msgActive_ = false;
    h.onMessage(Opcode(msgOp_), std::string_view(reinterpret_cast<const char*>(p), n));
    return !closed_;
  }
  return appendData(p, n, h);
}

bool WebSocketProtocol::appendData(const uint8_t* p, size_t n, Handler& h) {
  bool text = msgOp_ == uint8_t(Opcode::Text);
  if (msgCompressed_) {
    size_t before = buf_.size();
    InflateStatus st = inflater_->feed(p, n, buf_, maxMessage_);
    if (st == InflateStatus::TooBig) return fail(close_code::MessageTooBig, "message too big", h);
    if (st == InflateStatus::Error) return fail(close_code::InvalidPayload, "invalid compressed data", h);
    // Fail fast on the inflated bytes as they come out.
    if (text && !utf8_.feed(reinterpret_cast<const uint8_t*>(buf_.data()) + before, buf_.size() - before))
      return fail(close_code::InvalidPayload, "invalid UTF-8 in text message", h);
    return true;
  }
  // Validate before copying: the first invalid byte fails the connection even
  // when the rest of the frame has not arrived (§8.1, Autobahn 6.4.x).
  if (text && !utf8_.feed(p, n)) return fail(close_code::InvalidPayload, "invalid UTF-8 in text message", h);
  buf_.append(reinterpret_cast<const char*>(p), n);
  return true;
}

bool WebSocketProtocol::onFrameEnd(Handler& h) {
  if (isControlOpcode(frameOp_)) {
    if (frameHandled_) return !closed_;
    size_t n = ctrlBuffered_;
    std::string_view payload;
    if (n) payload = std::string_view(buf_.data() + buf_.size() - n, n);
    bool ok = handleControl(payload, h);
    if (closed_) return false;  // buffers already released
    buf_.resize(buf_.size() - n);
    ctrlBuffered_ = 0;
    if (!msgActive_ || closeSent_) releaseBuffer();
    return ok;
  }

  if (frameHandled_) return !closed_;  // delivered zero-copy
  if (closeSent_) {
    if (frameFin_) msgActive_ = false;
    return true;
  }
  if (!frameFin_) return true;

  // Last frame of the message.
  bool text = msgOp_ == uint8_t(Opcode::Text);
  if (msgCompressed_) {
    size_t before = buf_.size();
    InflateStatus st = inflater_->finish(buf_, maxMessage_);  // RFC 7692 §7.2.2 tail
    if (st == InflateStatus::TooBig) return fail(close_code::MessageTooBig, "message too big", h);
    if (st == InflateStatus::Error) return fail(close_code::InvalidPayload, "invalid compressed data", h);
    if (text && !utf8_.feed(reinterpret_cast<const uint8_t*>(buf_.data()) + before, buf_.size() - before))
      return fail(close_code::InvalidPayload, "invalid UTF-8 in text message", h);
  }
  if (text && !utf8_.complete())
    return fail(close_code::InvalidPayload, "truncated UTF-8 sequence at end of text message", h);
  msgActive_ = false;
  // Hand the bytes over and free them when the callback returns, whatever it
  // does (it may call close()): an idle connection keeps no buffer.
  std::string msg;
  msg.swap(buf_);
  h.onMessage(Opcode(msgOp_), msg);
  return !closed_;
}

bool WebSocketProtocol::handleControl(std::string_view payload, Handler& h) {
  switch (Opcode(frameOp_)) {
    case Opcode::Ping:
      // §5.5.2/§5.5.3: answer with a Pong carrying the same data, unless we
      // already sent Close (nothing but the Close echo goes out after that).
      if (closeSent_) return true;
      h.writeFrame(Opcode::Pong, payload);
      h.onPing(payload);
      return !closed_;
    case Opcode::Pong:
      h.onPong(payload);  // unsolicited pongs are allowed and need no answer (§5.5.3)
      return !closed_;
    case Opcode::Close:
      return handleClose(payload, h);
    default:
      return true;  // unreachable: the header check only lets known opcodes through
  }
}

bool WebSocketProtocol::handleClose(std::string_view payload, Handler& h) {
  using namespace close_code;
  uint16_t code = NoStatus;  // §7.1.5: no status code in the frame
  std::string_view reason;
  if (payload.size() == 1) return fail(ProtocolError, "close frame with a 1-byte payload", h);  // §5.5.1
  if (payload.size() >= 2) {
    code = uint16_t((uint8_t(payload[0]) << 8) | uint8_t(payload[1]));
    if (!isValidReceivedCloseCode(code)) return fail(ProtocolError, "invalid close code", h);  // §7.4
    reason = payload.substr(2);
    if (!Utf8Validator::isValid(reason)) return fail(InvalidPayload, "invalid UTF-8 in close reason", h);
  }
  if (!closeSent_) {
    // §5.5.1: echo the status code; an empty Close gets an empty Close.
    closeSent_ = true;
    h.writeFrame(Opcode::Close, payload.substr(0, payload.empty() ? 0 : 2));
  }
  finish(code, reason, h);
  return false;
}

bool WebSocketProtocol::fail(uint16_t code, std::string_view reason, Handler& h) {
  if (closed_) return false;
  // §7.1.7 "_Fail the WebSocket Connection_": send a Close (unless one was
  // already sent) and drop the connection without waiting for the peer.
  if (!closeSent_) {
    closeSent_ = true;
    h.writeFrame(Opcode::Close, makeClosePayload(code, reason));
  }
  finish(code, reason, h);
  return false;
}

void WebSocketProtocol::finish(uint16_t code, std::string_view reason, Handler& h) {
  closed_ = true;
  h.onClosed(code, reason);  // `reason` may point into buf_: release afterwards
  releaseBuffer();
}

void WebSocketProtocol::releaseBuffer() { std::string().swap(buf_); }

}  // namespace sb::ws
