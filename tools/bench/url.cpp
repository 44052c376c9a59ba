#include "url.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cctype>
#include <cstring>

#include "common.h"

namespace sbbench {

namespace {

// Shared by the ws:// and http:// parsers: `scheme` is "ws" or "http",
// `option` names the flag in error messages.
WsUrl parse_loopback_url(std::string_view url, std::string_view scheme, std::string_view option) {
  WsUrl out;
  out.text = std::string(url);
  auto fail = [&](const std::string& why) -> UsageError {
    return UsageError("bad " + std::string(option) + " '" + std::string(url) + "': " + why);
  };

  const std::string prefix = std::string(scheme) + "://";
  const std::string tls_prefix = std::string(scheme) + "s://";
  if (url.rfind(tls_prefix, 0) == 0) throw fail(tls_prefix + " (TLS) is not supported; use " + prefix);
  if (url.rfind(prefix, 0) != 0) throw fail("expected " + prefix + "host:port/path");
  std::string_view rest = url.substr(prefix.size());

  size_t path_start = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_start);
  std::string_view path = path_start == std::string_view::npos ? std::string_view{} : rest.substr(path_start);
  if (auto hash = path.find('#'); hash != std::string_view::npos) path = path.substr(0, hash);
  if (authority.find('@') != std::string_view::npos) throw fail("user info is not supported");
  if (authority.empty()) throw fail("missing host");

  std::string host;
  std::string_view port_text;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) throw fail("unterminated [IPv6] host");
    host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') throw fail("garbage after ]");
      port_text = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      host = std::string(authority.substr(0, colon));
      port_text = authority.substr(colon + 1);
    } else {
      host = std::string(authority);
    }
  }

  if (!port_text.empty() || authority.back() == ':') {
    if (port_text.empty() || port_text.size() > 5) throw fail("bad port");
    uint32_t p = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9') throw fail("bad port");
      p = p * 10 + uint32_t(c - '0');
    }
    if (p == 0 || p > 65535) throw fail("port out of range");
    out.port = uint16_t(p);
  }

  // Only literal loopback addresses (or the name "localhost", mapped without
  // DNS to 127.0.0.1) are accepted: a resolver could point a name anywhere.
  in_addr v4{};
  in6_addr v6{};
  std::string lower = host;
  for (auto& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "localhost") {
    inet_pton(AF_INET, "127.0.0.1", &v4);
    host = "127.0.0.1";
  } else if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    if ((ntohl(v4.s_addr) >> 24) != 127) {
      throw fail("refusing non-loopback address " + host + " (only 127.0.0.0/8 and ::1 are allowed)");
    }
  } else if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (!IN6_IS_ADDR_LOOPBACK(&v6)) {
      throw fail("refusing non-loopback address " + host + " (only 127.0.0.0/8 and ::1 are allowed)");
    }
  } else {
    throw fail("host '" + host + "' is not a loopback IP literal (use 127.0.0.1, [::1] or localhost)");
  }

  if (lower != "localhost" && host.find(':') != std::string::npos) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&out.addr);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(out.port);
    sa->sin6_addr = v6;
    out.addr_len = sizeof(sockaddr_in6);
    out.family = AF_INET6;
    out.host_header = "[" + host + "]";
  } else {
    auto* sa = reinterpret_cast<sockaddr_in*>(&out.addr);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(out.port);
    sa->sin_addr = v4;
    out.addr_len = sizeof(sockaddr_in);
    out.family = AF_INET;
    out.host_header = host;
  }
  if (out.port != 80) out.host_header += ":" + std::to_string(out.port);

  out.path = path.empty() ? "/" : std::string(path);
  if (out.path.front() == '?') out.path.insert(out.path.begin(), '/');
  for (char c : out.path) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) throw fail("path contains spaces or control characters");
  }
  return out;
}

}  // namespace

WsUrl parse_loopback_ws_url(std::string_view url) { return parse_loopback_url(url, "ws", "--url"); }

WsUrl parse_loopback_http_target(std::string_view url, std::string_view option) {
  return parse_loopback_url(url, "http", option);
}

WsUrl parse_loopback_http_url(std::string_view url) {
  WsUrl out = parse_loopback_url(url, "http", "--api");
  if (out.path.find_first_of("?#") != std::string::npos) {
    throw UsageError("bad --api '" + std::string(url) + "': expected a base URL without a query");
  }
  while (out.path.size() > 1 && out.path.back() == '/') out.path.pop_back();
  if (out.path == "/") out.path.clear();
  return out;
}

}  // namespace sbbench
