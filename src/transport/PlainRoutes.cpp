#include "transport/PlainRoutes.h"

#include "transport/PlainPoll.h"
#include "transport/PlainSse.h"
#include "transport/PlainWs.h"

namespace sb::transport {

void registerPlainRoutes(http::Router& router, core::Node& node, const PlainOptions& opts,
                         const ws::WebSocketOptions& wsOptions) {
  router.add("/sse", {"GET"}, [&node, opts](http::HttpContext& ctx) { servePlainSse(ctx, node, opts); });
  router.add("/ws", {"GET"},
             [&node, opts, &wsOptions](http::HttpContext& ctx) { servePlainWs(ctx, node, opts, wsOptions); });
  router.add("/poll", {"GET"}, [&node, opts](http::HttpContext& ctx) { servePlainPoll(ctx, node, opts); });
}

}  // namespace sb::transport
