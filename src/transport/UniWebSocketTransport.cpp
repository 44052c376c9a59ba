#include "transport/UniWebSocketTransport.h"

#include <spdlog/spdlog.h>

#include "http/HttpSession.h"
#include "net/Connection.h"
#include "net/Worker.h"
#include "protocol/Codec.h"
#include "protocol/Codes.h"
#include "transport/SessionFraming.h"

namespace sb::transport {

void UniWebSocketTransport::onOpen(ws::WebSocketConnection& ws) {
  ws_ = &ws;
  session_.start();
  if (connectRequest_) {
    connectReceived_ = true;
    auto req = std::move(connectRequest_);
    session_.connectUnidirectional(std::move(*req));
  }
}

void UniWebSocketTransport::onMessage(ws::WebSocketConnection&, ws::Opcode op, std::string_view payload) {
  if (connectReceived_) return;  // a unidirectional client has nothing more to say
  connectReceived_ = true;
  protocol::ConnectRequest req;
  std::string error;
  if (op != ws::Opcode::Text) error = "the connect request must be a text message (JSON)";
  else protocol::parseConnectRequest(payload, req, error);
  if (!error.empty()) {
    spdlog::info("uni_websocket client {}: malformed connect request ({}), disconnecting", session_.clientId(), error);
    session_.disconnect(protocol::disconnect::kBadRequest);
    return;
  }
  session_.connectUnidirectional(std::move(req));
}

void UniWebSocketTransport::onClose(ws::WebSocketConnection&, uint16_t) { session_.transportClosed(); }

void UniWebSocketTransport::onShutdown(ws::WebSocketConnection&) {
  session_.disconnect(protocol::disconnect::kShutdown);
}

// The client does not read: 3008, as Centrifugo closes a slow client (the
// close frame follows what is queued).
void UniWebSocketTransport::onSlowConsumer(ws::WebSocketConnection&) { session_.disconnect(protocol::disconnect::kSlow); }

void UniWebSocketTransport::sendText(std::string_view text) {
  // One message per push, without its envelope.
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.empty()) ws_->sendMessage(ws::Opcode::Text, protocol::unwrapPush(line));
  }
}

void UniWebSocketTransport::sendShared(const core::ChannelEvent& ev, const net::SharedBuffer::Ref&) {
  ws_->sendFramed(node_.hub().encoded(workerIndex(), ev, &encodeUniWebSocketFrame));
}

void UniWebSocketTransport::close(uint16_t code, std::string_view reason) {
  std::string push;
  protocol::writeDisconnectPush(push, code, reason);
  sendText(push);
  ws_->close(code, reason);
}

net::EventLoop& UniWebSocketTransport::loop() { return ws_->connection().loop(); }

void UniWebSocketTransport::armTimer(uint64_t delayMs) { timer_.arm(ws_->connection().loop(), delayMs); }

size_t UniWebSocketTransport::workerIndex() const { return size_t(ws_->connection().worker().index()); }

void acceptUniWebSocket(http::HttpContext& ctx, const ws::WebSocketOptions& opts, core::Node& node) {
  if (!node.origins().admit(ctx)) return;  // 403 for a page client.allowed_origins does not allow
  std::unique_ptr<protocol::ConnectRequest> req;
  std::string param = ctx.req.queryParam("cf_connect");
  if (!param.empty()) {
    req = std::make_unique<protocol::ConnectRequest>();
    std::string error;
    if (!protocol::parseConnectRequest(param, *req, error)) {
      ctx.session.respond(ctx.conn, ctx.req, http::Response::error(400, "cf_connect: " + error));
      return;
    }
  }
  ws::acceptWebSocket(ctx, opts, std::make_unique<UniWebSocketTransport>(node, std::move(req)));
}

}  // namespace sb::transport
