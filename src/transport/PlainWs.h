#pragma once
// GET /ws?channel=a&channel=b[&since=<positions>]: a bare WebSocket (the
// browser's `new WebSocket(url)`, websocat, ...) receives channels without
// any SDK (docs/plain.md, "/ws"). Receive-only: one JSON text message per
// publication, the same object as the SSE `data:`
//   {"channel":"a","offset":4,"data":{...}}
// framed once per publication per worker and shared by every subscriber
// (Hub::encoded). Control messages carry a "type":
//   {"type":"subscribed","channels":[{"channel":"a","epoch":"..","offset":3},...]}  first
//   {"type":"reset","channel":"a","recovered":false,"epoch":"..","offset":12,"reason":".."}
//   {"type":"join"|"leave","channel":"a","info":{..}}  with ?join_leave=true
// ("client" in subscribed for a stream with a user token, which holds
// presence in the namespaces that keep it).
// A client resumes by passing its position list as `since` (PlainEvent.h),
// built from the last offset it saw per channel and the epochs of the
// subscribed/reset messages. Messages the client sends are ignored.
#include <memory>

#include "core/Node.h"
#include "http/Router.h"
#include "net/TimerWheel.h"
#include "transport/PlainSubscription.h"
#include "ws/WebSocketConnection.h"

namespace sb::transport {

class PlainWsSession final : public PlainSubscription, public ws::WebSocketApp, private net::TimerNode {
 public:
  PlainWsSession(core::Node& node, size_t worker, int64_t expiresAt);
  ~PlainWsSession() override;

  // ws::WebSocketApp
  void onOpen(ws::WebSocketConnection& ws) override;
  void onMessage(ws::WebSocketConnection& ws, ws::Opcode op, std::string_view payload) override {}
  void onClose(ws::WebSocketConnection& ws, uint16_t code) override;
  // The server API's disconnect: closes with its code and reason.
  void disconnectStream(uint16_t code, std::string_view reason) override;
  // prepare()'s outcome. The stream begins (subscribed message, catch-up)
  // once both this and onOpen have come, in either order; a failure then
  // closes the WebSocket with 1013 (try again later) and the reason.
  void prepared(std::optional<PlainError> error);

 protected:
  void emitLive(size_t channel, const core::ChannelEvent& ev) override;
  void emitMissed(size_t channel, const protocol::Publication& pub) override;
  void emitReset(size_t channel, std::string_view reason) override;
  void emitJoinLeave(size_t channel, const core::ChannelEvent& ev) override;

 private:
  void begin();
  void scheduleTimer();
  static void onTimer(net::TimerNode* node);

  ws::WebSocketConnection* ws_ = nullptr;  // set once begun, cleared by onClose
  ws::WebSocketConnection* opened_ = nullptr;  // open, not yet begun (positions still being read)
  bool prepared_ = false;
  std::optional<PlainError> prepareError_;
  net::EventLoop* loop_ = nullptr;         // where the expiry/presence timer is armed
  int64_t expiresAt_;                      // connection token exp (unix s), 0 = never
};

// The route: validates (plain HTTP refusals as for /sse), subscribes, then
// performs the WebSocket handshake with `wsOptions` (which must outlive the
// connection).
void servePlainWs(http::HttpContext& ctx, core::Node& node, const PlainOptions& opts,
                  const ws::WebSocketOptions& wsOptions);

}  // namespace sb::transport
