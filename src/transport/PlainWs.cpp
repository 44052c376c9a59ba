#include "transport/PlainWs.h"

#include <chrono>

#include "http/HttpSession.h"
#include "net/Worker.h"
#include "transport/PlainEvent.h"

namespace sb::transport {

PlainWsSession::PlainWsSession(core::Node& node, size_t worker, int64_t expiresAt)
    : PlainSubscription(node, worker), expiresAt_(expiresAt) {
  TimerNode::fire = &PlainWsSession::onExpired;
}

PlainWsSession::~PlainWsSession() {
  if (loop_) loop_->timers().cancel(static_cast<TimerNode*>(this));
}

void PlainWsSession::onOpen(ws::WebSocketConnection& ws) {
  ws_ = &ws;
  std::string hello = "{\"type\":\"subscribed\",\"channels\":";
  writeChannelPositions(hello);
  hello += '}';
  ws.sendMessage(ws::Opcode::Text, hello);
  if (!catchUp()) {
    // Overflowed while pending: the client resumes from what it got.
    leave();
    if (ws_) ws_->close(1011, "too many publications while subscribing");
    return;
  }
  if (expiresAt_ > 0 && ws_) {
    int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count();
    loop_ = &ws.connection().loop();
    loop_->timers().schedule(static_cast<TimerNode*>(this), uint64_t(std::max<int64_t>(expiresAt_ - now, 0)) * 1000);
  }
}

void PlainWsSession::onExpired(net::TimerNode* node) {
  auto* self = static_cast<PlainWsSession*>(node);
  self->leave();
  // No refresh on a plain endpoint: reconnect with a fresh token.
  if (self->ws_) self->ws_->close(1008, "token expired");
}

void PlainWsSession::onClose(ws::WebSocketConnection&, uint16_t) {
  ws_ = nullptr;
  if (loop_) loop_->timers().cancel(static_cast<TimerNode*>(this));
  leave();
}

void PlainWsSession::emitLive(size_t, const core::ChannelEvent& ev) {
  if (ws_) ws_->sendFramed(node_.hub().encoded(worker_, ev, &encodePlainWsFrame));
}

void PlainWsSession::emitMissed(size_t channel, const protocol::Publication& pub) {
  if (!ws_) return;
  std::string json;
  writePlainEvent(json, channelName(channel), pub);
  ws_->sendMessage(ws::Opcode::Text, json);
}

void PlainWsSession::emitReset(size_t channel, std::string_view reason) {
  if (!ws_) return;
  std::string json;
  writeResetObject(json, channel, reason, "\"type\":\"reset\",");
  ws_->sendMessage(ws::Opcode::Text, json);
}

void servePlainWs(http::HttpContext& ctx, core::Node& node, const PlainOptions& opts,
                  const ws::WebSocketOptions& wsOptions) {
  if (!node.origins().admit(ctx)) return;  // 403 for a page client.allowed_origins does not allow
  PlainRequest preq;
  if (auto e = readPlainRequest(ctx.req, node, opts, ctx.req.queryParam("since"), "since", preq)) {
    ctx.session.respond(ctx.conn, ctx.req, http::Response::error(e->status, e->message));
    return;
  }
  auto session = std::make_unique<PlainWsSession>(node, size_t(ctx.conn.worker().index()), preq.expiresAt);
  if (auto e = session->prepare(preq)) {
    ctx.session.respond(ctx.conn, ctx.req, http::Response::error(e->status, e->message));
    return;
  }
  // A refused handshake answers 400/426 and drops the session (it leaves
  // its channels on destruction).
  ws::acceptWebSocket(ctx, wsOptions, std::move(session));
}

}  // namespace sb::transport
