#include "transport/PlainWs.h"

#include <chrono>

#include "http/HttpSession.h"
#include "net/Worker.h"
#include "transport/PlainEvent.h"

namespace sb::transport {

namespace {
int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

PlainWsSession::PlainWsSession(core::Node& node, size_t worker, int64_t expiresAt)
    : PlainSubscription(node, worker), expiresAt_(expiresAt) {
  TimerNode::fire = &PlainWsSession::onTimer;
}

PlainWsSession::~PlainWsSession() {
  if (loop_) loop_->timers().cancel(static_cast<TimerNode*>(this));
}

void PlainWsSession::onOpen(ws::WebSocketConnection& ws) {
  opened_ = &ws;
  begin();
}

void PlainWsSession::prepared(std::optional<PlainError> error) {
  prepared_ = true;
  prepareError_ = std::move(error);
  begin();
}

void PlainWsSession::begin() {
  if (!opened_ || !prepared_) return;
  ws::WebSocketConnection& ws = *opened_;
  opened_ = nullptr;
  if (prepareError_) {
    std::string reason = prepareError_->message.substr(0, 120);  // a close reason holds at most 123 bytes
    ws.close(1013, reason);
    return;
  }
  ws_ = &ws;
  std::string hello = "{\"type\":\"subscribed\",\"channels\":";
  writeChannelPositions(hello);
  writeClientMember(hello);
  hello += '}';
  ws.sendMessage(ws::Opcode::Text, hello);
  if (!catchUp()) {
    // Overflowed while pending: the client resumes from what it got.
    leave();
    if (ws_) ws_->close(1011, "too many publications while subscribing");
    return;
  }
  if (ws_) {
    loop_ = &ws.connection().loop();
    scheduleTimer();
  }
}

// One timer for both duties: the token's expiry and, for a stream in
// presence, refreshing it at the protocol clients' ping cadence
// (client.ping_interval < client.presence_ttl).
void PlainWsSession::scheduleTimer() {
  const bool refresh = holdsPresence();
  if (expiresAt_ <= 0 && !refresh) return;
  uint64_t delayMs = UINT64_MAX;
  if (expiresAt_ > 0) delayMs = uint64_t(std::max<int64_t>(expiresAt_ - unixNow(), 0)) * 1000;
  if (refresh) delayMs = std::min<uint64_t>(delayMs, uint64_t(node_.config().client.ping_interval.count()));
  loop_->timers().schedule(static_cast<TimerNode*>(this), delayMs);
}

void PlainWsSession::onTimer(net::TimerNode* node) {
  auto* self = static_cast<PlainWsSession*>(node);
  if (self->expiresAt_ > 0 && unixNow() >= self->expiresAt_) {
    self->leave();
    // No refresh on a plain endpoint: reconnect with a fresh token.
    if (self->ws_) self->ws_->close(1008, "token expired");
    return;
  }
  self->refreshPresence();
  self->scheduleTimer();
}

void PlainWsSession::disconnectStream(uint16_t code, std::string_view reason) {
  leave();
  if (ws_) ws_->close(code, reason);
}

void PlainWsSession::emitJoinLeave(size_t, const core::ChannelEvent& ev) {
  if (ws_) ws_->sendFramed(node_.hub().encoded(worker_, ev, &encodePlainWsJoinLeaveFrame));
}

void PlainWsSession::onClose(ws::WebSocketConnection&, uint16_t) {
  ws_ = nullptr;
  opened_ = nullptr;
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
  // Positions read at once (memory broker) decide the handshake: a failure
  // is an HTTP refusal. Read later (a remote broker), the handshake goes
  // first and the session begins when they arrive (PlainWsSession::prepared).
  // The callback never runs once the session is gone, so `ref` is safe.
  struct Handover {
    bool accepted = false;
    std::optional<std::optional<PlainError>> atOnce;
  };
  auto handover = std::make_shared<Handover>();
  PlainWsSession& ref = *session;
  ref.prepare(preq, [handover, &ref](std::optional<PlainError> e) {
    if (handover->accepted) ref.prepared(std::move(e));
    else handover->atOnce = std::move(e);
  });
  if (handover->atOnce) {
    if (auto& e = *handover->atOnce) {
      ctx.session.respond(ctx.conn, ctx.req, http::Response::error(e->status, e->message));
      return;
    }
    ref.prepared(std::nullopt);
  }
  handover->accepted = true;
  // A refused handshake answers 400/426 and drops the session (it leaves
  // its channels on destruction).
  ws::acceptWebSocket(ctx, wsOptions, std::move(session));
}

}  // namespace sb::transport
