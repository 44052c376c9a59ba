#pragma once
// Close status codes (RFC 6455 §7.4.1, IANA "WebSocket Close Code Number
// Registry") and the rule for which codes a peer may legitimately send.
#include <cstdint>

namespace sb::ws::close_code {

inline constexpr uint16_t Normal = 1000;              // purpose fulfilled, normal closure
inline constexpr uint16_t GoingAway = 1001;           // server shutting down / browser navigating away
inline constexpr uint16_t ProtocolError = 1002;       // peer violated the framing protocol
inline constexpr uint16_t UnsupportedData = 1003;     // received a data type it cannot accept
inline constexpr uint16_t Reserved1004 = 1004;        // reserved, meaning may be defined later; never sent
inline constexpr uint16_t NoStatus = 1005;            // pseudo-code: close frame carried no status; never sent
inline constexpr uint16_t Abnormal = 1006;            // pseudo-code: connection dropped without close frame; never sent
inline constexpr uint16_t InvalidPayload = 1007;      // message data inconsistent with its type (e.g. bad UTF-8)
inline constexpr uint16_t PolicyViolation = 1008;     // generic "message violates policy"
inline constexpr uint16_t MessageTooBig = 1009;       // message too big to process
inline constexpr uint16_t MandatoryExtension = 1010;  // client: server did not negotiate a required extension
inline constexpr uint16_t InternalError = 1011;       // server hit an unexpected condition
inline constexpr uint16_t ServiceRestart = 1012;      // IANA: server is restarting
inline constexpr uint16_t TryAgainLater = 1013;       // IANA: temporary overload, reconnect later
inline constexpr uint16_t BadGateway = 1014;          // IANA: gateway received an invalid upstream response
inline constexpr uint16_t TlsHandshake = 1015;        // pseudo-code: TLS handshake failed; never sent

// 3000-3999: registered with IANA for libraries/frameworks;
// 4000-4999: private use between applications (RFC 6455 §7.4.2).
inline constexpr uint16_t FirstLibraryCode = 3000;
inline constexpr uint16_t LastPrivateCode = 4999;

}  // namespace sb::ws::close_code

namespace sb::ws {

// True when `code` may appear in a Close frame received from a peer
// (RFC 6455 §7.4): the defined codes 1000-1003 and 1007-1011, the IANA
// registered 1012-1014, and the application ranges 3000-4999. Everything else
// (0-999, 1004, the pseudo-codes 1005/1006/1015, the unassigned 1016-2999 and
// anything >= 5000) is a protocol error.
bool isValidReceivedCloseCode(uint16_t code);

// True when we may put `code` in a Close frame we send: as above, since the
// pseudo-codes 1005/1006/1015 "MUST NOT be set as a status code" (§7.4.1).
inline bool isSendableCloseCode(uint16_t code) { return isValidReceivedCloseCode(code); }

// Short English name for logs ("normal", "protocol error", ...).
const char* closeCodeName(uint16_t code);

}  // namespace sb::ws
