#pragma once
// The protocol handler of a connection speaking HTTP/1.1: parses requests
// (keep-alive and pipelining), routes them, writes responses in order, and
// hands the connection over on a WebSocket upgrade. A handler whose answer
// comes later (a broker reply) defers it (defer()): the connection then waits
// for that answer before it reads the next pipelined request.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "http/HttpParser.h"
#include "http/Response.h"
#include "http/Router.h"
#include "net/Connection.h"

namespace sb::http {

// Shared, read-only after start-up, by every worker.
struct HttpServerContext {
  Router router;
  HttpParser::Limits limits;
  uint64_t idleTimeoutMs = 60000;     // keep-alive connection with no request
  uint64_t requestTimeoutMs = 15000;  // a started request must complete (slowloris)
};

class HttpSession;

// The promise of an answer to one request, taken by HttpSession::defer().
// Copyable (broker callbacks are std::function); the first respond() wins,
// later ones do nothing. Call it on the connection's loop thread (broker
// completions run on the thread that made the call, which is that one). When
// the connection has closed meanwhile respond() does nothing: the handle
// holds the session's waiting state weakly.
class DeferredResponse {
 public:
  struct State;
  DeferredResponse() = default;
  explicit DeferredResponse(std::weak_ptr<State> state) : state_(std::move(state)) {}
  void respond(Response&& res) const;
  // Whether the connection still waits for this answer.
  bool pending() const { return !state_.expired(); }

 private:
  std::weak_ptr<State> state_;
};

class HttpSession final : public net::ProtocolHandler {
 public:
  explicit HttpSession(const HttpServerContext& ctx);
  ~HttpSession() override;
  void onData(net::Connection& c, uint8_t* data, size_t len) override;
  void onTimer(net::Connection& c) override;
  void onDisconnect(net::Connection& c) override;
  const char* name() const override { return "http"; }

  // Writes the response; closes after it when the request asked to (or the
  // response is an error that leaves the stream unusable).
  void respond(net::Connection& c, const Request& req, Response&& res);
  // The handler answers `req` later, through the returned handle (with the
  // request's keep-alive, HEAD and response headers). Until then later
  // pipelined requests wait (their bytes are buffered, at most the header +
  // body limits; beyond that the deferred answer closes the connection) and
  // no request timeout runs: callers must be sure an answer comes (the Redis
  // broker fails every command it got no reply to within its own timeout).
  DeferredResponse defer(net::Connection& c, const Request& req);
  // Replaces this handler by `next` once the current request is handled; the
  // bytes after the request go to `next`. The caller has queued the 101.
  void upgrade(std::unique_ptr<net::ProtocolHandler> next) { upgradeTo_ = std::move(next); }
  // Headers respond() adds to every response to the request being handled
  // (CORS, http/Cors.h); forgotten when the next request starts.
  void setResponseHeaders(std::vector<std::pair<std::string, std::string>> headers) {
    responseHeaders_ = std::move(headers);
  }

 private:
  friend class DeferredResponse;
  void process(net::Connection& c, std::string_view data);
  void fail(net::Connection& c, int status, const std::string& message);
  void write(net::Connection& c, bool keepAliveAsked, bool head,
             const std::vector<std::pair<std::string, std::string>>& headers, Response&& res);
  // The deferred answer arrived: write it, then go on with the waiting bytes.
  void finishDeferred(Response&& res);

  const HttpServerContext& ctx_;
  HttpParser parser_;
  std::string pending_;  // bytes of an incomplete header block, or those waiting for a deferred answer
  std::unique_ptr<net::ProtocolHandler> upgradeTo_;
  std::vector<std::pair<std::string, std::string>> responseHeaders_;
  std::shared_ptr<DeferredResponse::State> deferred_;  // set while an answer is deferred
  bool closing_ = false;
  bool processing_ = false;  // inside process(): a deferred answer given at once needs no resume
  bool waitOverflow_ = false;  // more bytes came while waiting than we buffer
};

}  // namespace sb::http
