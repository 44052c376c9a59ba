#include "http/HttpSession.h"

namespace sb::http {

// What a deferred answer needs of its request; owned by the session only
// (handles hold it weakly), so a live State means a live session.
struct DeferredResponse::State {
  HttpSession* session;
  net::Connection* conn;
  bool keepAlive;
  bool head;
  std::vector<std::pair<std::string, std::string>> headers;
};

void DeferredResponse::respond(Response&& res) const {
  std::shared_ptr<State> state = state_.lock();
  if (!state) return;  // the connection closed, or answered already
  state->session->finishDeferred(std::move(res));
}

HttpSession::HttpSession(const HttpServerContext& ctx) : ctx_(ctx), parser_(ctx.limits) {}

HttpSession::~HttpSession() = default;

void HttpSession::onData(net::Connection& c, uint8_t* data, size_t len) {
  if (closing_) return;
  std::string_view input(reinterpret_cast<const char*>(data), len);
  if (deferred_) {
    // Pipelined behind a request still waiting for its answer: keep the
    // bytes, bounded (one full request's worth).
    if (pending_.size() + input.size() > ctx_.limits.headerLimit + ctx_.limits.bodyLimit) waitOverflow_ = true;
    else pending_.append(input);
    return;
  }
  if (pending_.empty()) {
    process(c, input);
  } else {
    pending_.append(input);
    std::string buffered = std::move(pending_);
    pending_.clear();
    process(c, buffered);
  }
}

void HttpSession::process(net::Connection& c, std::string_view data) {
  processing_ = true;
  while (!data.empty() && !closing_ && c.isOpen()) {
    size_t consumed = 0;
    Request req;
    auto result = parser_.parse(data, consumed, req);
    data.remove_prefix(consumed);
    if (result == HttpParser::Result::Error) {
      fail(c, parser_.errorStatus(), parser_.errorMessage());
      processing_ = false;
      return;
    }
    if (result == HttpParser::Result::NeedMore) {
      // Every earlier response is queued already (a request waiting for its
      // answer stops the parsing), so the interim response is in order.
      if (parser_.takeContinue()) c.sendCopy("HTTP/1.1 100 Continue\r\n\r\n");
      pending_.assign(data);
      // Give a started request a bounded time to complete.
      c.armTimer(ctx_.requestTimeoutMs);
      processing_ = false;
      return;
    }
    responseHeaders_.clear();
    HttpContext hc{c, req, *this};
    ctx_.router.dispatch(hc);
    if (upgradeTo_) {
      c.replaceHandler(std::move(upgradeTo_), std::string(data));
      processing_ = false;
      return;
    }
    if (deferred_) {
      // The answer comes later; the rest waits for it. No 408 meanwhile (the
      // broker's own reply timeout bounds the wait: Redis fails a command
      // unanswered after 5 s); the timer stays armed only to be re-armed.
      pending_.assign(data);
      c.armTimer(ctx_.requestTimeoutMs);
      processing_ = false;
      return;
    }
  }
  processing_ = false;
  if (!closing_ && c.isOpen()) c.armTimer(ctx_.idleTimeoutMs);
}

void HttpSession::onTimer(net::Connection& c) {
  if (deferred_) {  // waiting for our own answer, not for the client
    c.armTimer(ctx_.requestTimeoutMs);
    return;
  }
  if (parser_.inProgress() || !pending_.empty()) fail(c, 408, "request not completed in time");
  else c.closeAfterFlush();  // idle keep-alive connection
}

void HttpSession::onDisconnect(net::Connection&) {
  deferred_.reset();  // late answers find nothing to write to
  pending_.clear();
}

void HttpSession::fail(net::Connection& c, int status, const std::string& message) {
  Request dummy;
  dummy.keep_alive = false;
  responseHeaders_.clear();  // they belonged to an earlier request
  respond(c, dummy, Response::error(status, message));
}

void HttpSession::respond(net::Connection& c, const Request& req, Response&& res) {
  write(c, req.keep_alive, req.method == "HEAD", responseHeaders_, std::move(res));
}

void HttpSession::write(net::Connection& c, bool keepAliveAsked, bool head,
                        const std::vector<std::pair<std::string, std::string>>& headers, Response&& res) {
  bool keepAlive = keepAliveAsked && !closing_ && res.status < 500 && res.status != 400 && res.status != 408 &&
                   res.status != 413 && res.status != 431;
  for (const auto& h : headers) res.headers.push_back(h);
  c.sendCopy(res.serialize(keepAlive, head));
  if (!keepAlive) {
    closing_ = true;
    pending_.clear();
    c.closeAfterFlush();
  }
}

DeferredResponse HttpSession::defer(net::Connection& c, const Request& req) {
  deferred_ = std::make_shared<DeferredResponse::State>(
      DeferredResponse::State{this, &c, req.keep_alive, req.method == "HEAD", std::move(responseHeaders_)});
  responseHeaders_.clear();
  return DeferredResponse(deferred_);
}

void HttpSession::finishDeferred(Response&& res) {
  std::shared_ptr<DeferredResponse::State> state = std::move(deferred_);
  net::Connection& c = *state->conn;
  if (!c.isOpen()) return;
  write(c, state->keepAlive && !waitOverflow_, state->head, state->headers, std::move(res));
  if (processing_) return;  // answered within the handler: process() goes on by itself
  if (closing_ || !c.isOpen()) return;
  std::string waiting = std::move(pending_);
  pending_.clear();
  if (waiting.empty()) c.armTimer(parser_.inProgress() ? ctx_.requestTimeoutMs : ctx_.idleTimeoutMs);
  else process(c, waiting);
}

}  // namespace sb::http
