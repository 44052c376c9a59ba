#pragma once
// The bidirectional WebSocket transport of the client protocol
// (/connection/websocket): text messages carry newline-separated JSON
// commands in and replies/pushes out; disconnects are close frames with the
// protocol's code and reason.
#include <memory>

#include "core/ClientSession.h"
#include "ws/WebSocketConnection.h"

namespace sb::transport {

class WebSocketTransport final : public ws::WebSocketApp, public core::SessionTransport {
 public:
  explicit WebSocketTransport(core::Node& node) : session_(node, *this) {}

  // ws::WebSocketApp
  void onOpen(ws::WebSocketConnection& ws) override;
  void onMessage(ws::WebSocketConnection& ws, ws::Opcode op, std::string_view payload) override;
  void onClose(ws::WebSocketConnection& ws, uint16_t code) override;
  void onShutdown(ws::WebSocketConnection& ws) override;
  void onSlowConsumer(ws::WebSocketConnection& ws) override;
  void onTimer(ws::WebSocketConnection& ws) override;

  // core::SessionTransport
  void sendText(std::string_view text) override;
  void sendShared(const core::ChannelEvent& ev, const net::SharedBuffer::Ref& wsFrame) override;
  void close(uint16_t code, std::string_view reason) override;
  net::EventLoop& loop() override;
  size_t workerIndex() const override;
  void armTimer(uint64_t delayMs) override;
  void cancelTimer() override;
  const char* name() const override { return "websocket"; }

 private:
  ws::WebSocketConnection* ws_ = nullptr;  // set in onOpen, before any other call
  core::ClientSession session_;
};

// Serves the client protocol on a route: validates the upgrade and switches
// the connection to a WebSocketTransport with a fresh session.
void acceptClientWebSocket(http::HttpContext& ctx, const ws::WebSocketOptions& opts, core::Node& node);

}  // namespace sb::transport
