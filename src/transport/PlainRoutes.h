#pragma once
// The plain endpoints: subscribe without an SDK (docs/plain.md).
#include "core/Node.h"
#include "http/Router.h"
#include "transport/PlainRequest.h"
#include "ws/WebSocketConnection.h"

namespace sb::transport {

// Adds GET /sse, /ws, /poll, /presence, /history and POST /publish to `router`. `node` and `wsOptions` must
// outlive the router and every connection.
void registerPlainRoutes(http::Router& router, core::Node& node, const PlainOptions& opts,
                         const ws::WebSocketOptions& wsOptions);

}  // namespace sb::transport
