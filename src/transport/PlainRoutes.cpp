#include "transport/PlainRoutes.h"

#include "transport/PlainHistory.h"
#include "transport/PlainPoll.h"
#include "transport/PlainPresence.h"
#include "transport/PlainPublish.h"
#include "transport/PlainSse.h"
#include "transport/PlainWs.h"

namespace sb::transport {

void registerPlainRoutes(http::Router& router, core::Node& node, const PlainOptions& opts,
                         const ws::WebSocketOptions& wsOptions) {
  router.add("/sse", {"GET"}, [&node, opts](http::HttpContext& ctx) { servePlainSse(ctx, node, opts); });
  router.add("/ws", {"GET"},
             [&node, opts, &wsOptions](http::HttpContext& ctx) { servePlainWs(ctx, node, opts, wsOptions); });
  router.add("/poll", {"GET"}, [&node, opts](http::HttpContext& ctx) { servePlainPoll(ctx, node, opts); });
  router.add("/publish", {"POST"}, [&node](http::HttpContext& ctx) { servePlainPublish(ctx, node); });
  router.add("/presence", {"GET"}, [&node](http::HttpContext& ctx) { servePlainPresence(ctx, node); });
  router.add("/history", {"GET"}, [&node](http::HttpContext& ctx) { servePlainHistory(ctx, node); });
}

}  // namespace sb::transport
