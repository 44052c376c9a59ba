#include "transport/HttpStream.h"

#include <spdlog/spdlog.h>

#include "http/Response.h"

namespace sb::transport {

HttpStream::HttpStream(net::Connection& conn, std::unique_ptr<StreamSource> source, const HttpStreamOptions& opts)
    : conn_(conn), source_(std::move(source)), opts_(opts) {}

// A stream destroyed without having ended (its connection closed before the
// stream took it over) still tells its source, which leaves its channels.
HttpStream::~HttpStream() { notifyClosed(); }

std::string HttpStream::head(std::string_view contentType, std::string_view extraHeaders) {
  std::string out;
  out.reserve(160 + contentType.size() + extraHeaders.size());
  out += "HTTP/1.1 200 OK\r\nContent-Type: ";
  out += contentType;
  out += "\r\nCache-Control: no-cache\r\nX-Accel-Buffering: no\r\nConnection: close\r\nServer: switchboard\r\n";
  out += extraHeaders;
  out += "\r\n";
  return out;
}

void HttpStream::start() {
  if (!open()) return;
  // The HTTP session may have armed its request timer; the heartbeat (or
  // nothing) replaces it. Before the source opens: it may arm the timer
  // itself, or end at once (e.g. a long-poll answered at once), and then the
  // connection's linger timer bounds the close.
  if (opts_.heartbeatMs > 0) conn_.armTimer(opts_.heartbeatMs);
  else conn_.cancelTimer();
  source_->onStreamOpen(*this);
}

void HttpStream::refuse(int status, const std::string& message,
                        const std::vector<std::pair<std::string, std::string>>& extra) {
  if (!open()) return;
  http::Response res = http::Response::error(status, message);
  for (const auto& h : extra) res.headers.push_back(h);
  conn_.sendCopy(res.serialize(false, false));
  end();
}

void HttpStream::end() {
  if (ended_) return;
  conn_.closeAfterFlush();
  notifyClosed();
}

void HttpStream::write(const net::SharedBuffer::Ref& buf, size_t offset, size_t len) {
  if (!open() || len == 0) return;
  conn_.send(buf, offset, len);  // over the write queue limit: closed as a slow consumer
}

void HttpStream::writeCopy(std::string_view bytes) {
  if (!open() || bytes.empty()) return;
  conn_.sendCopy(bytes);
}

void HttpStream::onData(net::Connection& c, uint8_t*, size_t len) {
  // Nothing is expected after the request; a client that keeps sending is
  // not a stream reader.
  ignoredInput_ += len;
  if (ignoredInput_ > opts_.maxIgnoredInput) {
    spdlog::info("http stream: client sent {} bytes after its request, closing", ignoredInput_);
    c.close();
  }
}

void HttpStream::onTimer(net::Connection& c) {
  if (!open()) return;
  source_->onHeartbeat(*this);
  if (!open()) return;
  // A quiet stream gives its write queue's spare array back.
  c.trimWriteQueue();
  if (opts_.heartbeatMs > 0) c.armTimer(opts_.heartbeatMs);
}

void HttpStream::armTimer(uint64_t delayMs) {
  if (open()) conn_.armTimer(delayMs);
}

void HttpStream::cancelTimer() {
  if (open()) conn_.cancelTimer();
}

void HttpStream::onShutdown(net::Connection&) {
  if (open()) source_->onServerShutdown(*this);
  end();
}

void HttpStream::onDisconnect(net::Connection&) { notifyClosed(); }

void HttpStream::onSlowConsumer(net::Connection&) {
  if (open()) source_->onSlowConsumer(*this);
  end();
}

void HttpStream::notifyClosed() {
  if (ended_) return;
  ended_ = true;
  if (source_) source_->onStreamClosed();
}

}  // namespace sb::transport
