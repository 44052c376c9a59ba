#include "transport/SessionRoutes.h"

#include <spdlog/spdlog.h>

#include "http/Cors.h"
#include "http/HttpSession.h"
#include "net/Worker.h"
#include "protocol/Codec.h"
#include "protocol/Json.h"
#include "transport/EmulationRegistry.h"
#include "transport/SessionFraming.h"
#include "transport/SessionStream.h"
#include "transport/UniWebSocketTransport.h"

namespace sb::transport {

namespace {

void refuse(http::HttpContext& ctx, int status, std::string_view message) {
  ctx.session.respond(ctx.conn, ctx.req, http::Response::error(status, message));
}

// A HEAD request learns the stream's content type without opening one.
bool answeredHead(http::HttpContext& ctx, const SessionStreamKind& kind) {
  if (ctx.req.method != "HEAD") return false;
  http::Response head;
  head.header("Content-Type", kind.contentType).header("Cache-Control", "no-cache");
  ctx.session.respond(ctx.conn, ctx.req, std::move(head));
  return true;
}

// Writes the stream's head (with the CORS headers), hands the connection to
// an HttpStream carrying a SessionStream, and lets `begin` give the session
// its first input (the connect command or request).
template <class Begin>
void openSessionStream(http::HttpContext& ctx, core::Node& node, const SessionStreamKind& kind,
                       std::shared_ptr<EmulationRegistry> registry, Begin&& begin) {
  std::string session;
  if (registry && !newEmulationSession(session)) return refuse(ctx, 503, "could not generate a session id");
  auto source = std::make_unique<SessionStream>(node, ctx.conn.loop(), size_t(ctx.conn.worker().index()), kind,
                                                std::move(registry), std::move(session));
  SessionStream& stream = *source;
  ctx.conn.sendCopy(HttpStream::head(kind.contentType, http::headerLines(http::corsHeaders(ctx.req))));
  HttpStreamOptions opts;
  opts.heartbeatMs = 0;  // the session arms the connection's timer (pings, deadlines)
  auto http = std::make_unique<HttpStream>(ctx.conn, std::move(source), opts);
  http->start();
  begin(stream);
  ctx.session.upgrade(std::move(http));
}

// The client's commands or connect request: the cf_connect URL parameter of
// a GET, the body of a POST. Empty (after answering) when unusable.
bool readInitial(http::HttpContext& ctx, const ws::WebSocketOptions& ws, bool required, std::string& out) {
  out = ctx.req.method == "POST" ? ctx.req.body : ctx.req.queryParam("cf_connect");
  if (out.size() > ws.maxMessageSize) {
    refuse(ctx, 413, "the connect command is larger than websocket.max_message_size (" +
                         std::to_string(ws.maxMessageSize) + " bytes)");
    return false;
  }
  if (required && out.find_first_not_of(" \t\r\n") == std::string::npos) {
    refuse(ctx, 400,
           ctx.req.method == "POST"
               ? "the request body must hold the connect command, e.g. {\"id\":1,\"connect\":{\"token\":\"...\"}}"
               : "the cf_connect URL parameter must hold the connect command, e.g. "
                 "{\"id\":1,\"connect\":{\"token\":\"...\"}}");
    return false;
  }
  return true;
}

void serveEmulationStream(http::HttpContext& ctx, core::Node& node, const ws::WebSocketOptions& ws,
                          const SessionStreamKind& kind, const std::shared_ptr<EmulationRegistry>& registry) {
  if (answeredHead(ctx, kind)) return;
  std::string commands;
  if (!readInitial(ctx, ws, true, commands)) return;
  openSessionStream(ctx, node, kind, registry, [&](SessionStream& s) { s.receive(commands); });
}

void serveUniStream(http::HttpContext& ctx, core::Node& node, const ws::WebSocketOptions& ws,
                    const SessionStreamKind& kind) {
  if (answeredHead(ctx, kind)) return;
  std::string text;
  if (!readInitial(ctx, ws, false, text)) return;
  protocol::ConnectRequest req;
  std::string error;
  // Nothing at all is an empty request (anonymous, when allowed), as Centrifugo.
  if (text.find_first_not_of(" \t\r\n") != std::string::npos && !protocol::parseConnectRequest(text, req, error)) {
    return refuse(ctx, 400, (ctx.req.method == "POST" ? "request body: " : "cf_connect: ") + error);
  }
  openSessionStream(ctx, node, kind, nullptr, [&](SessionStream& s) { s.connect(std::move(req)); });
}

void respondNoContent(http::HttpContext& ctx) {
  http::Response res;
  res.status = 204;
  ctx.session.respond(ctx.conn, ctx.req, std::move(res));
}

// An /emulation request for a session held by another node (the load
// balancer sent it here): handed to that node in an "emulation" control
// message, which gives the commands to the session as a local request would
// (takeForwardedEmulation). 204 once the broker took the message (whether
// the session still lives there is not known here: commands for one that
// ended are dropped, as its stream has ended too); 404 when `req.node` names
// no live node; 413 when the message would be over the control channel's
// limit; 503 when the broker refused it.
void forwardEmulation(http::HttpContext& ctx, core::Node& node, EmulationRequest req) {
  if (!node.control().isLiveNode(req.node)) {
    return refuse(ctx, 404, "unknown node \"" + req.node + "\": no live node has this id (this node is \"" +
                                node.id() + "\")");
  }
  std::string body = "{\"session\":";
  protocol::writeString(body, req.session);
  body += ",\"data\":";
  protocol::writeString(body, req.data);
  body += '}';
  // The envelope around the body is under 256 bytes (two 36-byte node ids).
  if (body.size() + 256 > core::kMaxControlBytes) {
    return refuse(ctx, 413, "the commands are too large to forward to node \"" + req.node + "\" (the control " +
                                "channel carries at most " + std::to_string(core::kMaxControlBytes) + " bytes)");
  }
  http::DeferredResponse answer = ctx.session.defer(ctx.conn, ctx.req);
  node.control().send("emulation", req.node, std::move(body),
                      [answer, to = std::move(req.node)](bool, const broker::BrokerError* e) {
                        if (!e) {
                          http::Response res;
                          res.status = 204;
                          return answer.respond(std::move(res));
                        }
                        spdlog::warn("emulation: a request could not be forwarded to node {}: {}", to, e->message);
                        answer.respond(http::Response::error(503, "could not forward to node \"" + to + "\": " +
                                                                      e->message));
                      });
}

// The receiving end of forwardEmulation, on the broker's event thread (Redis:
// worker 0's loop); the registry hands the commands to the session on its own
// worker's loop. The sender is another node but the bytes are checked as a
// client's would be: a malformed or oversized message is logged and dropped.
void takeForwardedEmulation(EmulationRegistry& registry, size_t maxMessageSize, const core::ControlMessage& m) {
  std::string session, data;
  bool haveSession = false, haveData = false;
  protocol::json::ObjectReader r(m.body);
  protocol::json::Member member;
  while (r.next(member)) {
    if (member.key == "session") {
      auto v = protocol::json::asString(member.raw);
      if (v) session = std::move(*v), haveSession = true;
    } else if (member.key == "data") {
      auto v = protocol::json::asString(member.raw);
      if (v) data = std::move(*v), haveData = true;
    }
  }
  net::EventLoop* current = net::EventLoop::current();
  if (!r.ok() || !haveSession || !haveData || !current) {
    spdlog::warn("emulation: dropped a forwarded request from node {}: {}", m.from,
                 current ? "not {\"session\",\"data\"}" : "no event loop on this thread");
    return;
  }
  if (data.size() > maxMessageSize) {
    spdlog::warn("emulation: dropped a forwarded request from node {}: {} bytes of commands, over "
                 "websocket.max_message_size ({})", m.from, data.size(), maxMessageSize);
    return;
  }
  auto outcome = registry.deliver(session, std::move(data), *current);
  if (outcome != EmulationRegistry::Delivery::Accepted)
    spdlog::debug("emulation: a request forwarded by node {} found session {} {}", m.from, session,
                  outcome == EmulationRegistry::Delivery::Busy ? "busy" : "gone");
}

void serveEmulation(http::HttpContext& ctx, core::Node& node, const ws::WebSocketOptions& ws,
                    EmulationRegistry& registry) {
  if (http::iequals(ctx.req.header("Content-Type"), "application/octet-stream")) {
    return refuse(ctx, 415, "only the JSON protocol is served: Protobuf emulation requests are not supported");
  }
  EmulationRequest req;
  if (std::string problem = parseEmulationRequest(ctx.req.body, req); !problem.empty()) {
    return refuse(ctx, 400, problem);
  }
  if (req.data.size() > ws.maxMessageSize) {
    return refuse(ctx, 413, "the commands are larger than websocket.max_message_size (" +
                                std::to_string(ws.maxMessageSize) + " bytes)");
  }
  if (!req.node.empty() && req.node != node.id()) return forwardEmulation(ctx, node, std::move(req));
  switch (registry.deliver(req.session, std::move(req.data), ctx.conn.loop())) {
    case EmulationRegistry::Delivery::Accepted:
      return respondNoContent(ctx);
    case EmulationRegistry::Delivery::UnknownSession:
      return refuse(ctx, 404, "unknown session \"" + req.session + "\": it has ended (reconnect)");
    case EmulationRegistry::Delivery::Busy:
      return refuse(ctx, 429, "too many commands in flight for this session");
  }
}

}  // namespace

void registerSessionRoutes(http::Router& router, core::Node& node, const ws::WebSocketOptions& wsOptions) {
  auto registry = std::make_shared<EmulationRegistry>();
  node.control().setHandler("emulation",
                            [registry, maxMessageSize = wsOptions.maxMessageSize](const core::ControlMessage& m) {
                              takeForwardedEmulation(*registry, maxMessageSize, m);
                            });
  const http::OriginPolicy& origins = node.origins();
  const ws::WebSocketOptions& ws = wsOptions;
  http::addCorsRoute(router, origins, "/connection/sse", {"GET", "POST"}, [&node, &ws, registry](http::HttpContext& ctx) {
    serveEmulationStream(ctx, node, ws, kSseEmulation, registry);
  });
  http::addCorsRoute(router, origins, "/connection/http_stream", {"POST"},
                     [&node, &ws, registry](http::HttpContext& ctx) {
                       serveEmulationStream(ctx, node, ws, kHttpStreamEmulation, registry);
                     });
  http::addCorsRoute(router, origins, "/emulation", {"POST"}, [&node, &ws, registry](http::HttpContext& ctx) {
    serveEmulation(ctx, node, ws, *registry);
  });
  http::addCorsRoute(router, origins, "/connection/uni_sse", {"GET", "POST"}, [&node, &ws](http::HttpContext& ctx) {
    serveUniStream(ctx, node, ws, kUniSse);
  });
  http::addCorsRoute(router, origins, "/connection/uni_http_stream", {"POST"}, [&node, &ws](http::HttpContext& ctx) {
    serveUniStream(ctx, node, ws, kUniHttpStream);
  });
  router.add("/connection/uni_websocket", {"GET"},
             [&node, &ws](http::HttpContext& ctx) { acceptUniWebSocket(ctx, ws, node); });
}

}  // namespace sb::transport
