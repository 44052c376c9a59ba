#pragma once
// Server side of the WebSocket opening handshake (RFC 6455 §4.2): validates the
// client's upgrade request, computes Sec-WebSocket-Accept and renders the 101
// response. Pure functions over sb::http::Request; no I/O. permessage-deflate
// negotiation lives in PerMessageDeflate.h.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/Request.h"

namespace sb::ws {

// RFC 6455 §1.3 / §4.2.2: the GUID appended to the key before hashing.
inline constexpr std::string_view kWebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// base64(SHA-1(key + GUID)) (§4.2.2 item 5.4). `secWebSocketKey` is used as
// sent (after trimming surrounding spaces), not decoded.
std::string computeAcceptKey(std::string_view secWebSocketKey);

// Optional policy hooks for validateUpgrade().
struct HandshakeHooks {
  // Picks one of the protocols the client offered (Sec-WebSocket-Protocol,
  // in the client's order of preference), or nullopt for none. A value the
  // client did not offer is ignored: §4.2.2 only allows echoing an offer.
  std::function<std::optional<std::string>(const std::vector<std::string>&)> selectProtocol;
  // Accepts or refuses the Origin header value (empty when absent); refusal
  // answers 403 (§4.2.2 item 4 and §10.2).
  std::function<bool(std::string_view origin)> originAllowed;
};

struct HandshakeResult {
  int status = 400;                              // 101 on success, else the HTTP error status
  std::string error;                             // human-readable reason when status != 101
  std::string acceptKey;                         // Sec-WebSocket-Accept value on success
  std::vector<std::string> requestedProtocols;   // Sec-WebSocket-Protocol offers, in order
  std::string protocol;                          // the selected subprotocol; empty = none
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers for an error response

  bool ok() const { return status == 101; }
};

// Validates an upgrade request (§4.2.1), in this order:
//   method GET                               else 405 (+ Allow: GET)
//   HTTP/1.1 or later                        else 400
//   Host present                             else 400
//   Upgrade lists "websocket"                else 426 (+ Upgrade: websocket): the request
//                                            is not a WebSocket handshake at all, and RFC 9110
//                                            §15.5.22 says which protocol to switch to
//   Connection lists "upgrade"               else 400: a WebSocket handshake, but malformed
//   Sec-WebSocket-Version is exactly 13      else 426 (+ Sec-WebSocket-Version: 13) (§4.2.2)
//   Sec-WebSocket-Key, once, is base64 of
//   exactly 16 bytes                         else 400
//   Sec-WebSocket-Protocol items are tokens  else 400
//   origin hook (when set)                   else 403
// then runs the subprotocol selector (when set).
HandshakeResult validateUpgrade(const http::Request& req, const HandshakeHooks& hooks = {});

// The complete "HTTP/1.1 101 Switching Protocols" response, ending in CRLFCRLF.
// `protocol` / `extensions` add Sec-WebSocket-Protocol / Sec-WebSocket-Extensions
// when non-empty.
std::string buildAcceptResponse(const std::string& acceptKey, std::string_view protocol, std::string_view extensions);

}  // namespace sb::ws
