#include "transport/PlainPoll.h"

#include <charconv>

#include "http/Cors.h"
#include "http/HttpSession.h"
#include "http/OriginPolicy.h"
#include "http/Response.h"
#include "net/Worker.h"
#include "transport/PlainEvent.h"

namespace sb::transport {

PlainPoll::PlainPoll(core::Node& node, size_t worker, bool wait)
    : PlainSubscription(node, worker, /*announces=*/false), wait_(wait) {}

void PlainPoll::onStreamOpen(StreamSink& sink) {
  sink_ = &sink;
  inCatchUp_ = true;
  bool ok = catchUp();
  inCatchUp_ = false;
  // An overflow while pending is answered with what was caught up: the
  // client polls again from there.
  if (!ok || !wait_ || !publications_.empty() || !resets_.empty()) answer();
}

void PlainPoll::onStreamClosed() {
  sink_ = nullptr;
  leave();
}

void PlainPoll::emitLive(size_t, const core::ChannelEvent& ev) {
  if (!sink_) return;
  if (!publications_.empty()) publications_ += ',';
  publications_ += node_.hub().encoded(worker_, ev, &encodePlainJson)->view();
  if (!inCatchUp_) answer();
}

void PlainPoll::emitMissed(size_t channel, const protocol::Publication& pub) {
  if (!publications_.empty()) publications_ += ',';
  writePlainEvent(publications_, channelName(channel), pub);
}

void PlainPoll::emitReset(size_t channel, std::string_view reason) {
  if (!resets_.empty()) resets_ += ',';
  writeResetObject(resets_, channel, reason);
}

void PlainPoll::answer() {
  if (!sink_) return;
  StreamSink& sink = *sink_;
  std::string body = "{\"publications\":[" + publications_ + "],\"position\":\"" + positionList(positions()) + "\"";
  if (!resets_.empty()) body += ",\"resets\":[" + resets_ + "]";
  body += "}\n";
  http::Response res = http::Response::json(200, std::move(body));
  res.header("Cache-Control", "no-cache");
  for (auto& h : responseHeaders_) res.headers.push_back(std::move(h));
  leave();  // nothing more is taken in for this answer
  sink.writeCopy(res.serialize(false));
  sink.end();
}

void servePlainPoll(http::HttpContext& ctx, core::Node& node, const PlainOptions& opts) {
  if (!node.origins().admit(ctx)) return;  // 403 for a page client.allowed_origins does not allow
  auto refuse = [&](int status, const std::string& message) {
    ctx.session.respond(ctx.conn, ctx.req, http::Response::error(status, message));
  };
  uint64_t timeoutS = opts.pollTimeoutS;
  std::string timeout = ctx.req.queryParam("timeout");
  if (!timeout.empty()) {
    auto r = std::from_chars(timeout.data(), timeout.data() + timeout.size(), timeoutS);
    if (r.ec != std::errc() || r.ptr != timeout.data() + timeout.size() || timeoutS > opts.pollMaxTimeoutS) {
      return refuse(400, "timeout must be whole seconds from 0 to " + std::to_string(opts.pollMaxTimeoutS));
    }
  }
  PlainRequest preq;
  if (auto e = readPlainRequest(ctx.req, node, opts, ctx.req.queryParam("since"), "since", preq))
    return refuse(e->status, e->message);
  if (ctx.req.method == "HEAD") {
    ctx.session.respond(ctx.conn, ctx.req, http::Response::json(200, {}));
    return;
  }
  auto poll = std::make_unique<PlainPoll>(node, size_t(ctx.conn.worker().index()), timeoutS > 0);
  poll->setResponseHeaders(http::corsHeaders(ctx.req));
  PlainPoll& pollRef = *poll;
  HttpStreamOptions sopts;
  sopts.heartbeatMs = timeoutS * 1000;
  // As for /sse: the stream takes the connection now and starts (the wait
  // begins) once the positions are read; it owns the poll, so the callback
  // (never run once the poll is gone) may use both.
  auto stream = std::make_unique<HttpStream>(ctx.conn, std::move(poll), sopts);
  HttpStream* streamRef = stream.get();
  net::Connection& conn = ctx.conn;
  std::vector<std::pair<std::string, std::string>> cors = http::corsHeaders(ctx.req);
  conn.cancelTimer();
  ctx.session.upgrade(std::move(stream));
  pollRef.prepare(preq, [streamRef, &conn, cors = std::move(cors)](std::optional<PlainError> e) {
    if (!conn.isOpen()) return;
    if (e) return streamRef->refuse(e->status, e->message, cors);
    streamRef->start();
  });
}

}  // namespace sb::transport
