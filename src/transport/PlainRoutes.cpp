#include "transport/PlainRoutes.h"

#include "http/Cors.h"
#include "transport/PlainHistory.h"
#include "transport/PlainPoll.h"
#include "transport/PlainPresence.h"
#include "transport/PlainPublish.h"
#include "transport/PlainSse.h"
#include "transport/PlainWs.h"

namespace sb::transport {

void registerPlainRoutes(http::Router& router, core::Node& node, const PlainOptions& opts,
                         const ws::WebSocketOptions& wsOptions) {
  // Pages on other origins (client.allowed_origins) call the HTTP endpoints
  // through CORS; /ws needs none (the upgrade checks the origin).
  const http::OriginPolicy& origins = node.origins();
  http::addCorsRoute(router, origins, "/sse", {"GET"},
                     [&node, opts](http::HttpContext& ctx) { servePlainSse(ctx, node, opts); });
  router.add("/ws", {"GET"},
             [&node, opts, &wsOptions](http::HttpContext& ctx) { servePlainWs(ctx, node, opts, wsOptions); });
  http::addCorsRoute(router, origins, "/poll", {"GET"},
                     [&node, opts](http::HttpContext& ctx) { servePlainPoll(ctx, node, opts); });
  http::addCorsRoute(router, origins, "/publish", {"POST"},
                     [&node](http::HttpContext& ctx) { servePlainPublish(ctx, node); });
  http::addCorsRoute(router, origins, "/presence", {"GET"},
                     [&node](http::HttpContext& ctx) { servePlainPresence(ctx, node); });
  http::addCorsRoute(router, origins, "/history", {"GET"},
                     [&node](http::HttpContext& ctx) { servePlainHistory(ctx, node); });
}

}  // namespace sb::transport
