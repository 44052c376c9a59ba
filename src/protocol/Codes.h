#pragma once
// Every error, unsubscribe and disconnect code of the Centrifugo client
// protocol v2, with its meaning and what the client does next.
//
// Errors travel in replies ({"error":{...}}); disconnects close the
// connection (WebSocket close code + reason, or a disconnect push on
// transports without close frames); unsubscribe codes travel in unsubscribe
// pushes. Clients reconnect after disconnect codes 3000–3499 and 4000–4499 and
// stop after 3500–3999 and 4500–4999.
#include <cstdint>
#include <string_view>

namespace sb::protocol {

struct ErrorCode {
  uint32_t code;
  std::string_view message;
  bool temporary;  // the client may retry the same command
};

namespace error {
inline constexpr ErrorCode kInternal{100, "internal server error", true};
inline constexpr ErrorCode kUnauthorized{101, "unauthorized", false};
inline constexpr ErrorCode kUnknownChannel{102, "unknown channel", false};
inline constexpr ErrorCode kPermissionDenied{103, "permission denied", false};
inline constexpr ErrorCode kMethodNotFound{104, "method not found", false};
inline constexpr ErrorCode kAlreadySubscribed{105, "already subscribed", false};
inline constexpr ErrorCode kLimitExceeded{106, "limit exceeded", false};
inline constexpr ErrorCode kBadRequest{107, "bad request", false};
inline constexpr ErrorCode kNotAvailable{108, "not available", false};
inline constexpr ErrorCode kTokenExpired{109, "token expired", false};
inline constexpr ErrorCode kExpired{110, "expired", false};
inline constexpr ErrorCode kTooManyRequests{111, "too many requests", true};
inline constexpr ErrorCode kUnrecoverablePosition{112, "unrecoverable position", false};
inline constexpr ErrorCode kConcurrentPagination{113, "concurrent pagination", true};
}  // namespace error

struct DisconnectCode {
  uint16_t code;
  std::string_view reason;  // < 123 bytes: fits a WebSocket close frame
  bool reconnect() const { return (code >= 3000 && code < 3500) || (code >= 4000 && code < 4500) || code >= 5000; }
};

namespace disconnect {
// Reconnecting.
inline constexpr DisconnectCode kConnectionClosed{3000, "connection closed"};
inline constexpr DisconnectCode kShutdown{3001, "shutdown"};
inline constexpr DisconnectCode kInternal{3004, "internal server error"};
inline constexpr DisconnectCode kExpired{3005, "connection expired"};
inline constexpr DisconnectCode kSubExpired{3006, "subscription expired"};
inline constexpr DisconnectCode kSlow{3008, "slow"};
inline constexpr DisconnectCode kWriteError{3009, "write error"};
inline constexpr DisconnectCode kInsufficientState{3010, "insufficient state"};
inline constexpr DisconnectCode kForceReconnect{3011, "force reconnect"};
inline constexpr DisconnectCode kNoPong{3012, "no pong"};
inline constexpr DisconnectCode kTooManyRequests{3013, "too many requests"};
inline constexpr DisconnectCode kStateInvalidated{3014, "state invalidated"};
// Terminal: the client does not reconnect.
inline constexpr DisconnectCode kInvalidToken{3500, "invalid token"};
inline constexpr DisconnectCode kBadRequest{3501, "bad request"};
inline constexpr DisconnectCode kStale{3502, "stale"};
inline constexpr DisconnectCode kForceNoReconnect{3503, "force disconnect"};
inline constexpr DisconnectCode kConnectionLimit{3504, "connection limit"};
inline constexpr DisconnectCode kChannelLimit{3505, "channel limit"};
inline constexpr DisconnectCode kInappropriateProtocol{3506, "inappropriate protocol"};
inline constexpr DisconnectCode kPermissionDenied{3507, "permission denied"};
inline constexpr DisconnectCode kNotAvailable{3508, "not available"};
inline constexpr DisconnectCode kTooManyErrors{3509, "too many errors"};
}  // namespace disconnect

struct UnsubscribeCode {
  uint32_t code;
  std::string_view reason;
  // 2000–2499: the client stays unsubscribed; 2500–2999: it resubscribes.
  bool resubscribe() const { return code >= 2500 && code < 3000; }
};

namespace unsubscribe {
inline constexpr UnsubscribeCode kServer{2000, "server unsubscribe"};
inline constexpr UnsubscribeCode kInsufficientState{2500, "insufficient state"};
inline constexpr UnsubscribeCode kExpired{2501, "subscription expired"};
inline constexpr UnsubscribeCode kStateInvalidated{2502, "state invalidated"};
}  // namespace unsubscribe

// Lookups for logs, docs and tests; nullptr for an unknown code.
const ErrorCode* findError(uint32_t code);
const DisconnectCode* findDisconnect(uint16_t code);
const UnsubscribeCode* findUnsubscribe(uint32_t code);

}  // namespace sb::protocol
