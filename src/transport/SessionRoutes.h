#pragma once
// The client protocol's transports other than /connection/websocket
// (docs/transports.md):
//   GET|POST /connection/sse          emulation: SSE stream, connect command in cf_connect (or the body)
//   POST /connection/http_stream      emulation: newline-delimited JSON stream, connect command as the body
//   POST /emulation                   later commands of an sse/http_stream session
//   GET /connection/uni_websocket     unidirectional WebSocket
//   GET|POST /connection/uni_sse      unidirectional SSE, connect request in cf_connect (or the body)
//   POST /connection/uni_http_stream  unidirectional newline-delimited JSON, connect request as the body
// The HTTP ones answer CORS preflights and carry CORS headers (http/Cors.h).
#include "core/Node.h"
#include "http/Router.h"
#include "ws/WebSocketConnection.h"

namespace sb::transport {

// `node` and `wsOptions` must outlive the router and every connection.
// Commands in a request (cf_connect, a body, /emulation's data) are bounded
// by websocket.max_message_size, as a WebSocket message is.
void registerSessionRoutes(http::Router& router, core::Node& node, const ws::WebSocketOptions& wsOptions);

}  // namespace sb::transport
