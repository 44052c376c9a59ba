#include "http/HttpSession.h"

namespace sb::http {

HttpSession::HttpSession(const HttpServerContext& ctx) : ctx_(ctx), parser_(ctx.limits) {}

void HttpSession::onData(net::Connection& c, uint8_t* data, size_t len) {
  if (closing_) return;
  std::string_view input(reinterpret_cast<const char*>(data), len);
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
  while (!data.empty() && !closing_ && c.isOpen()) {
    size_t consumed = 0;
    Request req;
    auto result = parser_.parse(data, consumed, req);
    data.remove_prefix(consumed);
    if (result == HttpParser::Result::Error) {
      fail(c, parser_.errorStatus(), parser_.errorMessage());
      return;
    }
    if (result == HttpParser::Result::NeedMore) {
      pending_.assign(data);
      // Give a started request a bounded time to complete.
      c.armTimer(ctx_.requestTimeoutMs);
      return;
    }
    responseHeaders_.clear();
    HttpContext hc{c, req, *this};
    ctx_.router.dispatch(hc);
    if (upgradeTo_) {
      c.replaceHandler(std::move(upgradeTo_), std::string(data));
      return;
    }
  }
  if (!closing_ && c.isOpen()) c.armTimer(ctx_.idleTimeoutMs);
}

void HttpSession::onTimer(net::Connection& c) {
  if (parser_.inProgress() || !pending_.empty()) fail(c, 408, "request not completed in time");
  else c.closeAfterFlush();  // idle keep-alive connection
}

void HttpSession::fail(net::Connection& c, int status, const std::string& message) {
  Request dummy;
  dummy.keep_alive = false;
  responseHeaders_.clear();  // they belonged to an earlier request
  respond(c, dummy, Response::error(status, message));
}

void HttpSession::respond(net::Connection& c, const Request& req, Response&& res) {
  bool keepAlive = req.keep_alive && !closing_ && res.status < 500 && res.status != 400 && res.status != 408 &&
                   res.status != 413 && res.status != 431;
  for (const auto& h : responseHeaders_) res.headers.push_back(h);
  c.sendCopy(res.serialize(keepAlive, req.method == "HEAD"));
  if (!keepAlive) {
    closing_ = true;
    pending_.clear();
    c.closeAfterFlush();
  }
}
}  // namespace sb::http
