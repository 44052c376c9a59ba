#include "ws/Handshake.h"

#include <openssl/evp.h>

#include "util/Base64.h"

namespace sb::ws {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

using http::isToken;

HandshakeResult fail(int status, std::string msg) {
  HandshakeResult r;
  r.status = status;
  r.error = std::move(msg);
  return r;
}

}  // namespace

std::string computeAcceptKey(std::string_view secWebSocketKey) {
  std::string input(trim(secWebSocketKey));
  input.append(kWebSocketGuid);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digestLen = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &digestLen, EVP_sha1(), nullptr) != 1) return {};
  return util::base64Encode(std::string_view(reinterpret_cast<const char*>(digest), digestLen));
}

HandshakeResult validateUpgrade(const http::Request& req, const HandshakeHooks& hooks) {
  if (req.method != "GET") {
    // §4.1: the handshake MUST be a GET request.
    HandshakeResult r = fail(405, "WebSocket upgrade requires GET, got " + req.method);
    r.headers.emplace_back("Allow", "GET");
    return r;
  }
  if (req.version < 11) return fail(400, "WebSocket upgrade requires HTTP/1.1 or later");
  if (!req.hasHeader("Host")) return fail(400, "missing Host header");

  std::string upgrade = req.headerJoined("Upgrade");
  if (!http::headerHasToken(upgrade, "websocket")) {
    HandshakeResult r = fail(426, upgrade.empty() ? "this endpoint requires a WebSocket upgrade (no Upgrade header)"
                                                  : "Upgrade header does not offer websocket: " + upgrade);
    r.headers.emplace_back("Upgrade", "websocket");
    r.headers.emplace_back("Sec-WebSocket-Version", "13");
    return r;
  }
  std::string connection = req.headerJoined("Connection");
  if (!http::headerHasToken(connection, "upgrade"))
    return fail(400, "Connection header must contain the \"Upgrade\" token" +
                         (connection.empty() ? std::string(" (header missing)") : ", got: " + connection));

  // §4.2.2: a version we do not speak gets 426 plus the versions we do.
  std::string version = req.headerJoined("Sec-WebSocket-Version");
  if (trim(version) != "13") {
    HandshakeResult r = fail(426, version.empty() ? "missing Sec-WebSocket-Version (13 required)"
                                                  : "unsupported Sec-WebSocket-Version " + version + " (13 required)");
    r.headers.emplace_back("Sec-WebSocket-Version", "13");
    return r;
  }

  // Joined so that a repeated header (", " inside) fails decoding: §4.1 allows
  // exactly one key.
  std::string key = req.headerJoined("Sec-WebSocket-Key");
  std::string_view keyTrimmed = trim(key);
  if (keyTrimmed.empty()) return fail(400, "missing Sec-WebSocket-Key");
  auto decoded = util::base64Decode(keyTrimmed);
  if (!decoded) return fail(400, "Sec-WebSocket-Key is not valid base64");
  if (decoded->size() != 16)
    return fail(400, "Sec-WebSocket-Key must decode to 16 bytes, got " + std::to_string(decoded->size()));

  HandshakeResult r;
  std::string protocols = req.headerJoined("Sec-WebSocket-Protocol");
  std::string_view rest = protocols;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = trim(rest.substr(0, comma));
    if (!item.empty()) {
      if (!isToken(item)) return fail(400, "invalid subprotocol name in Sec-WebSocket-Protocol: " + std::string(item));
      r.requestedProtocols.emplace_back(item);
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }

  if (hooks.originAllowed) {
    std::string_view origin = req.header("Origin");
    if (!hooks.originAllowed(origin))
      return fail(403, "origin not allowed: " + (origin.empty() ? std::string("(none)") : std::string(origin)));
  }

  if (hooks.selectProtocol && !r.requestedProtocols.empty()) {
    if (auto chosen = hooks.selectProtocol(r.requestedProtocols)) {
      for (const auto& p : r.requestedProtocols)
        if (p == *chosen) {
          r.protocol = *chosen;
          break;
        }
    }
  }

  r.status = 101;
  r.acceptKey = computeAcceptKey(keyTrimmed);
  return r;
}

std::string buildAcceptResponse(const std::string& acceptKey, std::string_view protocol, std::string_view extensions) {
  std::string out;
  out.reserve(160 + protocol.size() + extensions.size());
  out += "HTTP/1.1 101 Switching Protocols\r\n"
         "Upgrade: websocket\r\n"
         "Connection: Upgrade\r\n"
         "Sec-WebSocket-Accept: ";
  out += acceptKey;
  out += "\r\n";
  if (!protocol.empty()) {
    out += "Sec-WebSocket-Protocol: ";
    out += protocol;
    out += "\r\n";
  }
  if (!extensions.empty()) {
    out += "Sec-WebSocket-Extensions: ";
    out += extensions;
    out += "\r\n";
  }
  out += "\r\n";
  return out;
}

}  // namespace sb::ws
