#pragma once
// The protocol handler of a connection speaking HTTP/1.1: parses requests
// (keep-alive and pipelining), routes them, writes responses in order, and
// hands the connection over on a WebSocket upgrade.
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

class HttpSession final : public net::ProtocolHandler {
 public:
  explicit HttpSession(const HttpServerContext& ctx);
  void onData(net::Connection& c, uint8_t* data, size_t len) override;
  void onTimer(net::Connection& c) override;
  const char* name() const override { return "http"; }

  // Writes the response; closes after it when the request asked to (or the
  // response is an error that leaves the stream unusable).
  void respond(net::Connection& c, const Request& req, Response&& res);
  // Replaces this handler by `next` once the current request is handled; the
  // bytes after the request go to `next`. The caller has queued the 101.
  void upgrade(std::unique_ptr<net::ProtocolHandler> next) { upgradeTo_ = std::move(next); }
  // Headers respond() adds to every response to the request being handled
  // (CORS, http/Cors.h); forgotten when the next request starts.
  void setResponseHeaders(std::vector<std::pair<std::string, std::string>> headers) {
    responseHeaders_ = std::move(headers);
  }

 private:
  void process(net::Connection& c, std::string_view data);
  void fail(net::Connection& c, int status, const std::string& message);

  const HttpServerContext& ctx_;
  HttpParser parser_;
  std::string pending_;  // bytes of an incomplete header block
  std::unique_ptr<net::ProtocolHandler> upgradeTo_;
  std::vector<std::pair<std::string, std::string>> responseHeaders_;
  bool closing_ = false;
};

}  // namespace sb::http
