#pragma once
// A connection after the 101: binds the pure protocol state machine
// (WebSocketProtocol) to a socket, adds idle pings and the close timeout, and
// hands messages to the application that runs over it (the echo endpoint now,
// protocol sessions later).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/Router.h"
#include "net/Connection.h"
#include "net/SharedBuffer.h"
#include "ws/Opcode.h"
#include "ws/PerMessageDeflate.h"
#include "ws/WebSocketProtocol.h"

namespace sb::ws {

struct WebSocketOptions {
  size_t maxMessageSize = 64 * 1024;
  bool compression = false;
  uint64_t idleTimeoutMs = 60000;  // 0 = no idle pings
  uint64_t closeTimeoutMs = 5000;
  // Messages shorter than this are sent uncompressed even when
  // permessage-deflate is on: deflate only grows tiny payloads.
  size_t compressMinSize = 64;
  // Origin check for the upgrade (false = 403); empty = any origin.
  std::function<bool(std::string_view origin)> originAllowed;
  // Picks a subprotocol from the client's offers; empty = none is selected.
  std::function<std::optional<std::string>(const std::vector<std::string>&)> selectProtocol;
};

class WebSocketConnection;

class WebSocketApp {
 public:
  virtual ~WebSocketApp() = default;
  virtual void onOpen(WebSocketConnection& ws) {}
  virtual void onMessage(WebSocketConnection& ws, Opcode op, std::string_view payload) = 0;
  virtual void onClose(WebSocketConnection& ws, uint16_t code) {}
  // The server is draining; the default closes with 1001.
  virtual void onShutdown(WebSocketConnection& ws);
  // The client does not read: unsent data passed server.write_queue_limit.
  // Closing here sends the close frame after what is queued (nothing else is
  // sent any more); the default closes with 1013 "slow consumer".
  virtual void onSlowConsumer(WebSocketConnection& ws);
  // The connection's timer fired while the app holds it (takeTimer).
  virtual void onTimer(WebSocketConnection& ws) {}
};

class WebSocketConnection final : public net::ProtocolHandler, private WebSocketProtocol::Handler {
 public:
  WebSocketConnection(net::Connection& conn, const WebSocketOptions& opts, std::optional<DeflateParams> deflate,
                      std::unique_ptr<WebSocketApp> app);
  ~WebSocketConnection() override;

  // Frames (compressing when negotiated and worthwhile) and queues a message.
  void sendMessage(Opcode op, std::string_view payload);
  // Queues bytes that are already a complete server frame (shared fan-out).
  void sendFramed(const net::SharedBuffer::Ref& frame) {
    if (!proto_.closing() && !proto_.closed()) conn_.send(frame);
  }
  // Starts the closing handshake.
  void close(uint16_t code, std::string_view reason);
  net::Connection& connection() { return conn_; }

  // Hands the connection's timer to the app for good: websocket.idle_timeout
  // pings stop (the app runs its own liveness checks, e.g. the Centrifugo
  // session's ping/pong) and WebSocketApp::onTimer is called when an
  // armAppTimer deadline passes. Once closing, the close timeout owns the
  // timer again and both calls are ignored.
  void takeTimer();
  void armAppTimer(uint64_t delayMs);
  void cancelAppTimer();
  bool compressionNegotiated() const { return inflater_ != nullptr; }

  void onData(net::Connection& c, uint8_t* data, size_t len) override;
  void onTimer(net::Connection& c) override;
  void onShutdown(net::Connection& c) override;
  void onDisconnect(net::Connection& c) override;
  void onSlowConsumer(net::Connection& c) override;
  const char* name() const override { return "websocket"; }

 private:
  void onMessage(Opcode op, std::string_view payload) override;
  void writeFrame(Opcode op, std::string_view payload) override;
  void onClosed(uint16_t code, std::string_view reason) override;
  void queueFrame(Opcode op, std::string_view payload, bool rsv1);

  net::Connection& conn_;
  const WebSocketOptions& opts_;
  std::unique_ptr<Inflater> inflater_;
  std::unique_ptr<WebSocketApp> app_;
  WebSocketProtocol proto_;
  // Low 32 bits of the loop's ms clock at the last input; idle time is the
  // wrapping difference, exact for anything under 49 days (the idle timer
  // checks far more often). 4 bytes less per connection than a uint64_t.
  uint32_t lastActivityMs_;
  uint8_t serverWindowBits_ = 15;
  bool pingOutstanding_ = false;
  bool closeNotified_ = false;
  bool appTimer_ = false;  // takeTimer() was called
};

// Validates the upgrade request in `ctx` (RFC 6455 §4.2), negotiates
// permessage-deflate when enabled, answers 101 and switches the connection to
// a WebSocketConnection running `app`. On a bad handshake it answers with the
// precise status (400, 403, 405, 426) and a message.
void acceptWebSocket(http::HttpContext& ctx, const WebSocketOptions& opts, std::unique_ptr<WebSocketApp> app);

}  // namespace sb::ws
