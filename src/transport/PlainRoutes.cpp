#include "transport/PlainRoutes.h"

#include "transport/PlainSse.h"

namespace sb::transport {

void registerPlainRoutes(http::Router& router, core::Node& node, const PlainOptions& opts) {
  router.add("/sse", {"GET"}, [&node, opts](http::HttpContext& ctx) { servePlainSse(ctx, node, opts); });
}

}  // namespace sb::transport
