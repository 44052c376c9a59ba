#include "ws/WebSocketConnection.h"

#include <cstring>

#include "http/HttpSession.h"
#include "ws/CloseCode.h"
#include "ws/FrameWriter.h"
#include "ws/Handshake.h"

namespace sb::ws {

// Every WebSocket carries one: see bench/profiles.md, "idle memory".
static_assert(sizeof(WebSocketConnection) <= 152, "WebSocketConnection grew: 152 bytes is one 160-byte malloc chunk");

namespace {
// One compressor per worker thread: the server never keeps compression
// context (server_no_context_takeover), so any message can use it.
thread_local Deflater tDeflater;
thread_local std::string tCompressed;
}  // namespace

WebSocketConnection::WebSocketConnection(net::Connection& conn, const WebSocketOptions& opts,
                                         std::optional<DeflateParams> deflate, std::unique_ptr<WebSocketApp> app)
    : conn_(conn),
      opts_(opts),
      inflater_(deflate ? std::make_unique<Inflater>(*deflate) : nullptr),
      app_(std::move(app)),
      proto_(WebSocketProtocol::Options{opts.maxMessageSize}, inflater_.get()),
      lastActivityMs_(uint32_t(conn.loop().now())) {
  if (deflate) serverWindowBits_ = uint8_t(deflate->server_max_window_bits);
  if (opts_.idleTimeoutMs) conn_.armTimer(opts_.idleTimeoutMs);
  else conn_.cancelTimer();
  if (app_) app_->onOpen(*this);
}

// The app goes first, while everything it may call back into is alive.
WebSocketConnection::~WebSocketConnection() { app_.reset(); }

void WebSocketConnection::takeTimer() {
  appTimer_ = true;
  conn_.cancelTimer();
}

void WebSocketConnection::armAppTimer(uint64_t delayMs) {
  if (appTimer_ && !proto_.closing() && !proto_.closed()) conn_.armTimer(delayMs);
}

void WebSocketConnection::cancelAppTimer() {
  if (appTimer_ && !proto_.closing() && !proto_.closed()) conn_.cancelTimer();
}

void WebSocketConnection::onData(net::Connection& c, uint8_t* data, size_t len) {
  lastActivityMs_ = uint32_t(c.loop().now());
  pingOutstanding_ = false;
  proto_.feed(data, len, *this);
}

void WebSocketConnection::onMessage(Opcode op, std::string_view payload) {
  if (app_) app_->onMessage(*this, op, payload);
}

void WebSocketConnection::writeFrame(Opcode op, std::string_view payload) { queueFrame(op, payload, false); }

void WebSocketConnection::queueFrame(Opcode op, std::string_view payload, bool rsv1) {
  uint8_t header[10];
  size_t hlen = writeFrameHeader(header, op, payload.size(), true, rsv1);
  auto buf = net::SharedBuffer::create(hlen + payload.size());
  std::memcpy(buf->data(), header, hlen);
  if (!payload.empty()) std::memcpy(buf->data() + hlen, payload.data(), payload.size());
  conn_.send(buf);
}

void WebSocketConnection::sendMessage(Opcode op, std::string_view payload) {
  if (proto_.closing() || proto_.closed() || !conn_.isOpen()) return;
  if (inflater_ && payload.size() >= opts_.compressMinSize &&
      tDeflater.compress(payload, tCompressed, serverWindowBits_) && tCompressed.size() < payload.size()) {
    queueFrame(op, tCompressed, true);
    return;
  }
  queueFrame(op, payload, false);
}

void WebSocketConnection::close(uint16_t code, std::string_view reason) {
  if (proto_.closing() || proto_.closed()) return;
  proto_.close(code, reason, *this);
  // Wait a bounded time for the peer's close frame.
  if (!proto_.closed()) conn_.armTimer(opts_.closeTimeoutMs);
}

void WebSocketConnection::onClosed(uint16_t code, std::string_view reason) {
  if (!closeNotified_) {
    closeNotified_ = true;
    if (app_) app_->onClose(*this, code);
  }
  conn_.closeAfterFlush();
}

void WebSocketConnection::onTimer(net::Connection& c) {
  c.trimWriteQueue();  // at least once per idle period: a quiet connection keeps no spare array
  if (proto_.closing()) {
    c.close();  // the peer never answered our close frame
    return;
  }
  if (appTimer_) {
    if (app_) app_->onTimer(*this);
    return;
  }
  if (!opts_.idleTimeoutMs) return;
  uint64_t now = c.loop().now();
  uint64_t idle = uint32_t(uint32_t(now) - lastActivityMs_);
  if (idle < opts_.idleTimeoutMs) {
    c.armTimer(opts_.idleTimeoutMs - idle);
    return;
  }
  if (!pingOutstanding_) {
    // Silent for a whole period: probe with a ping; any frame resets it.
    pingOutstanding_ = true;
    lastActivityMs_ = uint32_t(now);
    writeFrame(Opcode::Ping, {});
    c.armTimer(opts_.idleTimeoutMs);
    return;
  }
  close(close_code::GoingAway, "idle timeout");
}

void WebSocketApp::onShutdown(WebSocketConnection& ws) { ws.close(close_code::GoingAway, "server shutting down"); }

void WebSocketConnection::onShutdown(net::Connection& c) {
  if (app_) app_->onShutdown(*this);
  else close(close_code::GoingAway, "server shutting down");
}

void WebSocketApp::onSlowConsumer(WebSocketConnection& ws) { ws.close(close_code::TryAgainLater, "slow consumer"); }

void WebSocketConnection::onSlowConsumer(net::Connection&) {
  if (proto_.closing() || proto_.closed()) return;
  if (app_) app_->onSlowConsumer(*this);
  else close(close_code::TryAgainLater, "slow consumer");
}

void WebSocketConnection::onDisconnect(net::Connection& c) {
  if (!closeNotified_) {
    closeNotified_ = true;
    if (app_) app_->onClose(*this, close_code::Abnormal);
  }
}

void acceptWebSocket(http::HttpContext& ctx, const WebSocketOptions& opts, std::unique_ptr<WebSocketApp> app) {
  HandshakeResult hs = validateUpgrade(ctx.req, HandshakeHooks{opts.selectProtocol, opts.originAllowed});
  if (hs.status != 101) {
    http::Response r = http::Response::error(hs.status, hs.error);
    for (auto& [k, v] : hs.headers) r.header(k, v);
    ctx.session.respond(ctx.conn, ctx.req, std::move(r));
    return;
  }
  std::optional<DeflateParams> deflate;
  std::string extensions;
  if (opts.compression) {
    std::string offers = ctx.req.headerJoined("Sec-WebSocket-Extensions");
    if (!offers.empty()) {
      if (auto n = negotiatePermessageDeflate(offers)) {
        deflate = n->params;
        extensions = n->response;
      }
    }
  }
  ctx.conn.sendCopy(buildAcceptResponse(hs.acceptKey, hs.protocol, extensions));
  ctx.session.upgrade(std::make_unique<WebSocketConnection>(ctx.conn, opts, deflate, std::move(app)));
}

}  // namespace sb::ws
