#pragma once
// Which web pages may open client connections (client.allowed_origins).
//
// A browser sends the Origin of the page behind every WebSocket upgrade and
// cross-origin request, and a page cannot forge it; without this check any
// site a user visits could connect with the user's cookies. Programs that are
// not browsers send no Origin and always pass (they can claim any origin
// anyway). With an Origin:
//  - an empty list allows only the same origin: the Origin's host[:port]
//    equals the request's Host;
//  - otherwise the Origin must match an entry: "*" matches any origin, and
//    '*' / '?' inside an entry match any run of characters / one character
//    ("https://*.example.com" matches every subdomain, not example.com).
// Comparison ignores case, and a scheme's default port (":80" for http,
// ":443" for https) is the same as no port.
#include <string>
#include <string_view>
#include <vector>

namespace sb::http {

struct HttpContext;

class OriginPolicy {
 public:
  // `allowed`: the entries of client.allowed_origins, each one for which
  // originPatternProblem() is empty (the config loader checks them).
  explicit OriginPolicy(const std::vector<std::string>& allowed = {});

  // Whether a request carrying this Origin header value (empty = none) and
  // this Host header value may proceed.
  bool allows(std::string_view origin, std::string_view host) const;

  // For transports, before they accept a browser connection (WebSocket
  // upgrade, SSE, HTTP streaming): true when ctx.req may proceed; otherwise
  // answers 403 with a body naming the origin and the config key, and
  // returns false (the caller must not answer again).
  bool admit(HttpContext& ctx) const;

 private:
  std::vector<std::string> patterns_;  // normalized: lower case, default port removed
  bool anyOrigin_ = false;             // an entry is "*"
};

// Why `pattern` cannot be an entry of client.allowed_origins ("" when it
// can): "*", "null", or scheme://host[:port] without a path, where the host
// and port may hold '*' and '?'.
std::string originPatternProblem(std::string_view pattern);

}  // namespace sb::http
