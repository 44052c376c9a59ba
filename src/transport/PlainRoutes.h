#pragma once
// The plain endpoints: subscribe without an SDK (docs/protocol.md, "Plain
// endpoints").
#include "core/Node.h"
#include "http/Router.h"
#include "transport/PlainRequest.h"

namespace sb::transport {

// Adds GET /sse to `router`. `node` must outlive the router.
void registerPlainRoutes(http::Router& router, core::Node& node, const PlainOptions& opts);

}  // namespace sb::transport
