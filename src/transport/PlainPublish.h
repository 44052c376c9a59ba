#pragma once
// POST /publish?channel=C: a client without the SDK publishes to a channel
// (docs/plain.md, "/publish"). The body is the publication's JSON data; the
// token and the namespace's publish permission are checked as for a protocol
// client's publish (PlainRequest.h, readPlainChannelCall). The publication
// carries the caller as `info` ({"user","client","conn_info"}): `client` is
// the caller's stream named by ?client= when it is verified, else a fresh id.
//
// 200 {"offset":N,"epoch":".."} (the publication's position; "epoch" only in
// a channel with history), 400 no channel, a bad name, an unknown namespace,
// an empty body or one that is not JSON, 401 token, 403 not allowed, 413 body
// over server.max_body_size, 503 the broker failed.
#include "core/Node.h"
#include "http/Router.h"

namespace sb::transport {

void servePlainPublish(http::HttpContext& ctx, core::Node& node);

}  // namespace sb::transport
