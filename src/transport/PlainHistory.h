#pragma once
// GET /history?channel=C[&limit=N]: a channel's latest publications, for
// clients without the SDK (docs/plain.md, "/history"). The token and the
// namespace's history permission are checked as for a protocol client's
// `history` (PlainRequest.h, readPlainChannelCall).
//
// 200 {"publications":[<event objects, oldest first>],"epoch":"..","offset":N}
// with the newest `limit` publications (default and most:
// client.history_max_publications; 0 = only the position) and the stream's
// position, which a client can pass as `since` to /ws or /poll (or as
// last_event_id to /sse) to continue exactly after them. 400 no channel, a
// bad name or limit, an unknown namespace, 401 token, 403 not allowed, 404 the
// namespace keeps no history, 503 the broker failed.
#include "core/Node.h"
#include "http/Router.h"

namespace sb::transport {

void servePlainHistory(http::HttpContext& ctx, core::Node& node);

}  // namespace sb::transport
