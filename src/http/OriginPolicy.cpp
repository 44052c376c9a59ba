#include "http/OriginPolicy.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "http/HttpSession.h"
#include "http/Request.h"
#include "http/Response.h"
#include "http/Router.h"
#include "util/Glob.h"

namespace sb::http {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return out;
}

// "scheme://host:port" with the scheme's default port dropped, in lower case;
// `hostPort` gets the part after "://" (empty when there is no "://").
std::string normalizeOrigin(std::string_view origin, std::string* hostPort = nullptr) {
  std::string out = lower(origin);
  size_t sep = out.find("://");
  if (sep == std::string::npos) return out;
  std::string_view scheme = std::string_view(out).substr(0, sep);
  std::string_view defaultPort = scheme == "http" ? ":80" : scheme == "https" ? ":443" : "";
  if (!defaultPort.empty() && out.ends_with(defaultPort)) out.resize(out.size() - defaultPort.size());
  if (hostPort) *hostPort = out.substr(sep + 3);
  return out;
}

bool isSchemeChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
         c == '.';
}

bool isHostPortChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == ':' || c == '[' || c == ']' || c == '*' || c == '?';
}

}  // namespace

OriginPolicy::OriginPolicy(const std::vector<std::string>& allowed) {
  for (const auto& entry : allowed) {
    if (entry == "*") anyOrigin_ = true;
    patterns_.push_back(normalizeOrigin(entry));
  }
}

bool OriginPolicy::allows(std::string_view origin, std::string_view host) const {
  if (origin.empty() || anyOrigin_) return true;
  std::string hostPort;
  std::string normalized = normalizeOrigin(origin, &hostPort);
  if (patterns_.empty()) {
    if (hostPort.empty() || host.empty()) return false;  // "null" (sandboxed pages, file://) is never same-origin
    // The Host header with the same default port rule as the Origin.
    std::string requestHost;
    normalizeOrigin(normalized.substr(0, normalized.size() - hostPort.size()) + std::string(host), &requestHost);
    return hostPort == requestHost;
  }
  for (const auto& pattern : patterns_)
    if (util::globMatch(pattern, normalized)) return true;
  return false;
}

bool OriginPolicy::admit(HttpContext& ctx) const {
  std::string_view origin = ctx.req.header("Origin");
  if (allows(origin, ctx.req.header("Host"))) return true;
  std::string message =
      patterns_.empty()
          ? fmt::format("origin \"{}\" is not allowed: client.allowed_origins is empty, so only pages served from "
                        "this host may connect; add the origin to client.allowed_origins",
                        origin)
          : fmt::format("origin \"{}\" is not allowed: it matches no entry of client.allowed_origins", origin);
  spdlog::debug("refused {} {}: {}", ctx.req.method, ctx.req.path, message);
  ctx.session.respond(ctx.conn, ctx.req, Response::error(403, message));
  return false;
}

std::string originPatternProblem(std::string_view pattern) {
  constexpr std::string_view kExpected =
      "expected \"*\", \"null\" or an origin like \"https://example.com\" or \"https://*.example.com\" "
      "(scheme://host[:port], no path)";
  if (pattern == "*" || pattern == "null") return {};
  size_t sep = pattern.find("://");
  if (sep == std::string_view::npos || sep == 0)
    return fmt::format("{}, got \"{}\": missing \"scheme://\"", kExpected, pattern);
  for (char c : pattern.substr(0, sep))
    if (!isSchemeChar(c)) return fmt::format("{}, got \"{}\": invalid character in the scheme", kExpected, pattern);
  std::string_view hostPort = pattern.substr(sep + 3);
  if (hostPort.empty()) return fmt::format("{}, got \"{}\": missing host", kExpected, pattern);
  if (hostPort.back() == '/')
    return fmt::format("{}, got \"{}\": an origin has no path, remove the trailing '/'", kExpected, pattern);
  for (char c : hostPort) {
    if (c == '/') return fmt::format("{}, got \"{}\": an origin has no path", kExpected, pattern);
    if (!isHostPortChar(c))
      return fmt::format("{}, got \"{}\": invalid character '{}' in the host", kExpected, pattern, c);
  }
  return {};
}

}  // namespace sb::http
