#pragma once
// GET /presence?channel=C: who is in a channel, for clients without the SDK
// (docs/plain.md, "/presence"). The token and the namespace's presence
// permission are checked as for a protocol client's `presence` (PlainRequest.h,
// readPlainChannelCall: ?client= names the caller's stream when the namespace
// grants presence to subscribers only).
//
// 200 {"presence":{"<client>":{"user":..,"client":..,"conn_info":..},...}}
// (the client protocol's presence result), 400 no channel, a bad name, an
// unknown namespace, 401 token, 403 not allowed, 404 the namespace keeps no
// presence, 503 the broker failed.
#include "core/Node.h"
#include "http/Router.h"

namespace sb::transport {

void servePlainPresence(http::HttpContext& ctx, core::Node& node);

}  // namespace sb::transport
