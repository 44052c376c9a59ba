#include "http/Router.h"

#include "http/HttpSession.h"

namespace sb::http {

void Router::add(std::string path, std::vector<std::string> methods, Handler handler) {
  routes_[std::move(path)] = Route{std::move(methods), std::move(handler)};
}

void Router::dispatch(HttpContext& ctx) const {
  auto it = routes_.find(ctx.req.path);
  if (it == routes_.end()) {
    if (fallback_) fallback_(ctx);
    else ctx.session.respond(ctx.conn, ctx.req, Response::error(404, "no such path: " + ctx.req.path));
    return;
  }
  const Route& route = it->second;
  if (!route.methods.empty()) {
    bool ok = false;
    for (const auto& m : route.methods)
      if (m == ctx.req.method || (m == "GET" && ctx.req.method == "HEAD")) ok = true;
    if (!ok) {
      std::string allow;
      for (const auto& m : route.methods) {
        if (!allow.empty()) allow += ", ";
        allow += m;
      }
      Response r = Response::error(405, "method " + ctx.req.method + " not allowed on " + ctx.req.path +
                                            " (allowed: " + allow + ")");
      r.header("Allow", allow);
      ctx.session.respond(ctx.conn, ctx.req, std::move(r));
      return;
    }
  }
  route.handler(ctx);
}

}  // namespace sb::http
