#pragma once
// A parsed HTTP/1.1 request, decoupled from the parser that produced it
// (HttpParser fills it from Boost.Beast). Handlers, the WebSocket handshake and
// tests only ever see this type.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb::http {

// ASCII case-insensitive comparison, as header names and many tokens require.
bool iequals(std::string_view a, std::string_view b);

// RFC 9110 §5.6.2 tchar, and a non-empty run of them.
bool isTokenChar(char c);
bool isToken(std::string_view s);

// True when a comma-separated header value such as "keep-alive, Upgrade"
// contains `token` (case-insensitive, surrounding spaces ignored).
bool headerHasToken(std::string_view value, std::string_view token);

struct Request {
  std::string method;  // "GET", "POST", ... as sent
  std::string target;  // request-target as sent, e.g. "/a/b?x=1"
  std::string path;    // target before '?', percent-decoding NOT applied
  std::string query;   // after '?', without it; empty when absent
  int version = 11;    // 10 or 11
  std::vector<std::pair<std::string, std::string>> headers;  // in arrival order
  std::string body;
  bool keep_alive = true;

  // First header with this name (case-insensitive); empty view when absent.
  std::string_view header(std::string_view name) const;
  bool hasHeader(std::string_view name) const;
  // Every value of a repeated header joined with ", " (RFC 9110 §5.3).
  std::string headerJoined(std::string_view name) const;
  // First value of a query parameter, percent-decoded; empty when absent.
  std::string queryParam(std::string_view name) const;
  // Every value of a repeated query parameter ("?channel=a&channel=b"),
  // percent-decoded, in order.
  std::vector<std::string> queryParams(std::string_view name) const;
};

}  // namespace sb::http
