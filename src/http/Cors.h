#pragma once
// Cross-origin requests (the Fetch standard's CORS protocol) for the
// endpoints a web page calls with fetch() or EventSource: the client
// protocol's SSE and HTTP-streaming transports and /emulation, the
// unidirectional SSE/HTTP-stream transports, and the plain /sse, /poll,
// /publish, /presence and /history.
//
// Which pages may call them is client.allowed_origins, the same rule as for
// WebSocket upgrades (OriginPolicy):
//  - no Origin header (not a browser, or a same-origin GET): served as is;
//  - an allowed Origin: served with Access-Control-Allow-Origin: <origin>,
//    Vary: Origin and Access-Control-Allow-Credentials: true (the page may
//    send cookies; the origin is echoed because "*" is not allowed with
//    credentials);
//  - any other Origin: 403 naming the origin and the config key;
//  - an OPTIONS preflight from an allowed origin: 204 with the route's
//    methods, the request headers the browser asked for, and a max-age of
//    300 s (as Centrifugo), so a page pays for one preflight per endpoint.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/OriginPolicy.h"
#include "http/Request.h"
#include "http/Response.h"
#include "http/Router.h"

namespace sb::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// The CORS headers of the response to `req` (whose origin was admitted):
// none when it carries no Origin.
HeaderList corsHeaders(const Request& req);

// "Name: value\r\n" for each header, for response heads written by hand
// (streams: transport/HttpStream::head).
std::string headerLines(const HeaderList& headers);

// The 204 answer to a preflight (or any OPTIONS) for a route that takes
// `methods` (e.g. "POST, OPTIONS").
Response preflightResponse(const Request& req, std::string_view methods);

// Adds a route that browsers may call from other pages: `methods` plus
// OPTIONS. Before `handler` runs, a disallowed Origin is answered 403 and a
// preflight 204; every response the handler makes through HttpSession::respond
// carries the CORS headers. A handler that writes a head itself adds
// headerLines(corsHeaders(ctx.req)). `origins` must outlive the router.
void addCorsRoute(Router& router, const OriginPolicy& origins, std::string path, std::vector<std::string> methods,
                  Router::Handler handler);

}  // namespace sb::http
