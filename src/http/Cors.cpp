#include "http/Cors.h"

#include "http/HttpSession.h"

namespace sb::http {

HeaderList corsHeaders(const Request& req) {
  std::string_view origin = req.header("Origin");
  if (origin.empty()) return {};
  return {{"Access-Control-Allow-Origin", std::string(origin)},
          {"Vary", "Origin"},
          {"Access-Control-Allow-Credentials", "true"}};
}

std::string headerLines(const HeaderList& headers) {
  std::string out;
  for (const auto& [name, value] : headers) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  return out;
}

namespace {

// The headers a preflight asks for, when each is a valid field name; others
// are left out (the browser then refuses the request, which is right).
std::string requestedHeaders(const Request& req) {
  std::string asked = req.headerJoined("Access-Control-Request-Headers");
  std::string out;
  size_t pos = 0;
  while (pos <= asked.size()) {
    size_t comma = asked.find(',', pos);
    if (comma == std::string::npos) comma = asked.size();
    std::string_view name = std::string_view(asked).substr(pos, comma - pos);
    while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.remove_prefix(1);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    if (isToken(name)) {
      if (!out.empty()) out += ", ";
      out += name;
    }
    pos = comma + 1;
  }
  return out;
}

}  // namespace

Response preflightResponse(const Request& req, std::string_view methods) {
  Response res;
  res.status = 204;
  for (auto& h : corsHeaders(req)) res.headers.push_back(std::move(h));
  res.header("Allow", std::string(methods));
  if (!req.header("Origin").empty()) {
    res.header("Access-Control-Allow-Methods", std::string(methods));
    std::string headers = requestedHeaders(req);
    if (!headers.empty()) res.header("Access-Control-Allow-Headers", std::move(headers));
    res.header("Access-Control-Max-Age", "300");
  }
  return res;
}

void addCorsRoute(Router& router, const OriginPolicy& origins, std::string path, std::vector<std::string> methods,
                  Router::Handler handler) {
  methods.push_back("OPTIONS");
  std::string allow;
  for (const auto& m : methods) {
    if (!allow.empty()) allow += ", ";
    allow += m;
  }
  router.add(std::move(path), std::move(methods),
             [&origins, allow = std::move(allow), handler = std::move(handler)](HttpContext& ctx) {
               if (!origins.admit(ctx)) return;  // 403 naming the origin
               if (ctx.req.method == "OPTIONS") {
                 ctx.session.respond(ctx.conn, ctx.req, preflightResponse(ctx.req, allow));
                 return;
               }
               ctx.session.setResponseHeaders(corsHeaders(ctx.req));
               handler(ctx);
             });
}

}  // namespace sb::http
