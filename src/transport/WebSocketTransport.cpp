#include "transport/WebSocketTransport.h"

#include "net/Connection.h"
#include "net/Worker.h"
#include "protocol/Codes.h"

namespace sb::transport {

// Every protocol client carries one (with its ClientSession): see
// bench/profiles.md, "idle memory".
static_assert(sizeof(WebSocketTransport) <= 168, "WebSocketTransport grew: 168 bytes is one 176-byte malloc chunk");

void WebSocketTransport::onOpen(ws::WebSocketConnection& ws) {
  ws_ = &ws;
  // The session's ping/pong replaces websocket.idle_timeout pings, and one
  // timer per connection is enough (docs/websocket.md).
  ws.takeTimer();
  session_.start();
}

void WebSocketTransport::onMessage(ws::WebSocketConnection&, ws::Opcode op, std::string_view payload) {
  if (op != ws::Opcode::Text) {
    // The JSON protocol is text only (Protobuf would be negotiated as a
    // subprotocol, which we do not offer).
    session_.disconnect(protocol::disconnect::kBadRequest);
    return;
  }
  session_.handleMessage(payload);
}

void WebSocketTransport::onClose(ws::WebSocketConnection&, uint16_t) { session_.transportClosed(); }

void WebSocketTransport::onShutdown(ws::WebSocketConnection&) {
  session_.disconnect(protocol::disconnect::kShutdown);
}

// The client does not read: 3008, as Centrifugo closes a slow client (the
// close frame follows what is queued).
void WebSocketTransport::onSlowConsumer(ws::WebSocketConnection&) { session_.disconnect(protocol::disconnect::kSlow); }

void WebSocketTransport::onTimer(ws::WebSocketConnection&) { session_.timerFired(); }

void WebSocketTransport::armTimer(uint64_t delayMs) { ws_->armAppTimer(delayMs); }

void WebSocketTransport::cancelTimer() {
  if (ws_) ws_->cancelAppTimer();
}

void WebSocketTransport::sendText(std::string_view text) { ws_->sendMessage(ws::Opcode::Text, text); }

void WebSocketTransport::sendShared(const core::ChannelEvent&, const net::SharedBuffer::Ref& wsFrame) {
  ws_->sendFramed(wsFrame);
}

void WebSocketTransport::close(uint16_t code, std::string_view reason) { ws_->close(code, reason); }

net::EventLoop& WebSocketTransport::loop() { return ws_->connection().loop(); }

size_t WebSocketTransport::workerIndex() const { return size_t(ws_->connection().worker().index()); }

void acceptClientWebSocket(http::HttpContext& ctx, const ws::WebSocketOptions& opts, core::Node& node) {
  if (!node.origins().admit(ctx)) return;  // 403 for a page client.allowed_origins does not allow
  ws::acceptWebSocket(ctx, opts, std::make_unique<WebSocketTransport>(node));
}

}  // namespace sb::transport
