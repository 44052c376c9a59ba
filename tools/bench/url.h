// ws:// URL parsing restricted to loopback targets. This tool generates load;
// it must never be pointed at another machine, so anything that is not
// 127.0.0.0/8, ::1 or "localhost" is refused before any socket is opened.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace sbbench {

struct WsUrl {
  std::string text;         // as given
  std::string host_header;  // value for the Host: header, e.g. "127.0.0.1:8000"
  std::string path;         // request target, at least "/"
  uint16_t port = 80;
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  int family = 0;
};

// Throws UsageError with a precise reason (scheme, syntax, non-loopback host).
WsUrl parse_loopback_ws_url(std::string_view url);
// The same rules for an http:// base URL (fanout's --api); the path defaults
// to "/" and is kept without a trailing slash so "/api/..." can be appended.
WsUrl parse_loopback_http_url(std::string_view url);
// An http:// URL with its path and query kept as given (--url for SSE,
// --publish-url); `option` names the flag in error messages.
WsUrl parse_loopback_http_target(std::string_view url, std::string_view option);

}  // namespace sbbench
