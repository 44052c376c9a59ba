#include "transport/PlainSse.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>

#include "http/Cors.h"
#include "http/HttpSession.h"
#include "net/Worker.h"
#include "protocol/Codec.h"
#include "protocol/Codes.h"
#include "transport/PlainEvent.h"

namespace sb::transport {

namespace {

constexpr std::string_view kContentType = "text/event-stream; charset=utf-8";

int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

PlainSseStream::PlainSseStream(core::Node& node, size_t worker, const PlainOptions& opts, int64_t expiresAt)
    : PlainSubscription(node, worker), opts_(opts), expiresAt_(expiresAt) {}

void PlainSseStream::appendIdLine(std::string& out) const {
  out += "id: ";
  size_t at = out.size();
  out.resize(at + positionListMaxSize(positions()));
  out.resize(at + writePositionList(out.data() + at, positions()));
  out += '\n';
}

void PlainSseStream::onStreamOpen(StreamSink& sink) {
  sink_ = &sink;
  burst_.clear();
  burst_ += "retry: ";
  burst_ += std::to_string(opts_.retryMs);
  burst_ += "\n\nevent: subscribed\n";
  appendIdLine(burst_);
  burst_ += "data: {\"channels\":";
  writeChannelPositions(burst_);
  writeClientMember(burst_);
  burst_ += "}\n\n";
  inBurst_ = true;
  bool ok = catchUp();
  inBurst_ = false;
  if (sink_) sink_->writeCopy(burst_);
  std::string().swap(burst_);
  if (!ok && sink_) {
    spdlog::info("sse: too many publications while subscribing; ending the stream (the client resumes)");
    leave();
    sink_ = nullptr;
    sink.end();
  }
}

void PlainSseStream::onHeartbeat(StreamSink& sink) {
  if (expiresAt_ > 0 && unixNow() >= expiresAt_) {
    // No refresh on a plain stream: the client reconnects with a new token.
    static const std::string kExpired = "event: expired\ndata: {\"reason\":\"token expired\"}\n\n";
    sink.writeCopy(kExpired);
    sink.end();
    return;
  }
  static const net::SharedBuffer::Ref kPing = net::SharedBuffer::copyOf(": ping\n\n");
  sink.write(kPing);
  refreshPresence();
}

void PlainSseStream::onStreamClosed() {
  sink_ = nullptr;
  leave();
}

void PlainSseStream::emitLive(size_t, const core::ChannelEvent& ev) {
  if (inBurst_) {
    appendIdLine(burst_);
    burst_ += node_.hub().encoded(worker_, ev, &encodeSseData)->view();
    return;
  }
  if (!sink_) return;
  // The id line from the worker's arena, the data part shared.
  core::SliceArena& arena = node_.hub().sliceArena(worker_);
  char* p = reinterpret_cast<char*>(arena.reserve(4 + positionListMaxSize(positions()) + 1));
  std::memcpy(p, "id: ", 4);
  size_t n = 4 + writePositionList(p + 4, positions());
  p[n++] = '\n';
  size_t offset = arena.commit(n);
  sink_->write(arena.block(), offset, n);
  if (sink_) sink_->write(node_.hub().encoded(worker_, ev, &encodeSseData));
}

void PlainSseStream::disconnectStream(uint16_t code, std::string_view reason) {
  leave();
  if (!sink_) return;
  StreamSink& sink = *sink_;
  sink_ = nullptr;
  std::string event = "event: disconnect\ndata: {\"code\":" + std::to_string(code) + ",\"reason\":";
  protocol::writeString(event, reason);
  event += "}\n\n";
  sink.writeCopy(event);
  sink.end();
}

void PlainSseStream::onSlowConsumer(StreamSink&) {
  disconnectStream(protocol::disconnect::kSlow.code, protocol::disconnect::kSlow.reason);
}

void PlainSseStream::emitJoinLeave(size_t, const core::ChannelEvent& ev) {
  if (sink_) sink_->write(node_.hub().encoded(worker_, ev, &encodeSseJoinLeave));
}

void PlainSseStream::emitMissed(size_t channel, const protocol::Publication& pub) {
  appendIdLine(burst_);
  burst_ += "data: ";
  writePlainEvent(burst_, channelName(channel), pub);
  burst_ += "\n\n";
}

void PlainSseStream::emitReset(size_t channel, std::string_view reason) {
  burst_ += "event: reset\n";
  appendIdLine(burst_);
  burst_ += "data: ";
  writeResetObject(burst_, channel, reason);
  burst_ += "\n\n";
}

void servePlainSse(http::HttpContext& ctx, core::Node& node, const PlainOptions& opts) {
  if (!node.origins().admit(ctx)) return;  // 403 for a page client.allowed_origins does not allow
  auto refuse = [&](const PlainError& e) {
    ctx.session.respond(ctx.conn, ctx.req, http::Response::error(e.status, e.message));
  };
  // The browser's reconnect carries Last-Event-ID; it is newer than a
  // ?last_event_id= written into the URL, so it wins.
  std::string since(ctx.req.header("Last-Event-ID"));
  if (since.empty()) since = ctx.req.queryParam("last_event_id");
  PlainRequest preq;
  if (auto e = readPlainRequest(ctx.req, node, opts, since, "last event id", preq)) return refuse(*e);
  if (ctx.req.method == "HEAD") {
    http::Response head;
    head.header("Content-Type", std::string(kContentType)).header("Cache-Control", "no-cache");
    ctx.session.respond(ctx.conn, ctx.req, std::move(head));
    return;
  }
  const size_t worker = size_t(ctx.conn.worker().index());
  auto source = std::make_unique<PlainSseStream>(node, worker, opts, preq.expiresAt);
  PlainSseStream& sourceRef = *source;
  HttpStreamOptions sopts;
  sopts.heartbeatMs = opts.heartbeatMs;
  // The stream takes the connection now and opens (head, subscribed event)
  // once the positions are read, which a remote broker answers later. The
  // stream owns the source, so the callback (never run once the source is
  // gone) may use both.
  auto stream = std::make_unique<HttpStream>(ctx.conn, std::move(source), sopts);
  HttpStream* streamRef = stream.get();
  net::Connection& conn = ctx.conn;
  std::vector<std::pair<std::string, std::string>> cors = http::corsHeaders(ctx.req);
  conn.cancelTimer();  // no heartbeat before the head
  ctx.session.upgrade(std::move(stream));
  sourceRef.prepare(preq, [streamRef, &conn, cors = std::move(cors)](std::optional<PlainError> e) {
    if (!conn.isOpen()) return;
    if (e) return streamRef->refuse(e->status, e->message, cors);
    conn.sendCopy(HttpStream::head(kContentType, http::headerLines(cors)));
    streamRef->start();
  });
}

}  // namespace sb::transport
