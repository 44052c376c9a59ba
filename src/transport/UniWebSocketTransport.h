#pragma once
// The unidirectional WebSocket transport (/connection/uni_websocket), as
// Centrifugo's uni_websocket: the client sends its connect request — a bare
// ConnectRequest object such as {"token":"…","subs":{…}} — as the first text
// message (or in the `cf_connect` URL parameter), then only listens. The
// server answers with a connect push and sends pushes without the
// {"push":…} envelope, one per message, and "{}" pings that need no answer.
// Messages after the connect request are ignored (as Centrifugo). A
// disconnect is a disconnect push followed by a close frame with the code.
#include <memory>

#include "core/ClientSession.h"
#include "ws/WebSocketConnection.h"

namespace sb::transport {

class UniWebSocketTransport final : public ws::WebSocketApp, public core::SessionTransport {
 public:
  // `connectRequest`: from the URL (cf_connect), or null to wait for the
  // first message.
  UniWebSocketTransport(core::Node& node, std::unique_ptr<protocol::ConnectRequest> connectRequest)
      : node_(node), connectRequest_(std::move(connectRequest)), timer_(session_), session_(node, *this) {}

  // ws::WebSocketApp
  void onOpen(ws::WebSocketConnection& ws) override;
  void onMessage(ws::WebSocketConnection& ws, ws::Opcode op, std::string_view payload) override;
  void onClose(ws::WebSocketConnection& ws, uint16_t code) override;
  void onShutdown(ws::WebSocketConnection& ws) override;
  void onSlowConsumer(ws::WebSocketConnection& ws) override;

  // core::SessionTransport
  void sendText(std::string_view text) override;
  void sendShared(const core::ChannelEvent& ev, const net::SharedBuffer::Ref& wsFrame) override;
  void close(uint16_t code, std::string_view reason) override;
  net::EventLoop& loop() override;
  size_t workerIndex() const override;
  void armTimer(uint64_t delayMs) override;
  void cancelTimer() override { timer_.cancel(); }
  const char* name() const override { return "uni_websocket"; }
  bool unidirectional() const override { return true; }

 private:
  core::Node& node_;
  ws::WebSocketConnection* ws_ = nullptr;  // set in onOpen, before any other call
  std::unique_ptr<protocol::ConnectRequest> connectRequest_;  // until the session connects
  bool connectReceived_ = false;
  // The session's own timer: the connection's stays with the WebSocket's
  // idle pings, which find a dead peer (a unidirectional client never
  // answers the session's pings). Before session_: it outlives the
  // session's last cancelTimer.
  core::SessionTimer timer_;
  core::ClientSession session_;  // last: destroyed first
};

// Serves /connection/uni_websocket: checks the origin and a cf_connect URL
// parameter (400 naming the problem when it is malformed), then upgrades.
void acceptUniWebSocket(http::HttpContext& ctx, const ws::WebSocketOptions& opts, core::Node& node);

}  // namespace sb::transport
