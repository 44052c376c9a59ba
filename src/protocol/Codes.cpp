// Lookup tables over every code constant in Codes.h. Linear scans: the tables
// are small and lookups happen on logs, docs and tests, not per message.
#include "protocol/Codes.h"

#include <array>

namespace sb::protocol {

namespace {

constexpr std::array kErrors = {
    &error::kInternal,         &error::kUnauthorized,   &error::kUnknownChannel, &error::kPermissionDenied,
    &error::kMethodNotFound,   &error::kAlreadySubscribed, &error::kLimitExceeded, &error::kBadRequest,
    &error::kNotAvailable,     &error::kTokenExpired,   &error::kExpired,        &error::kTooManyRequests,
    &error::kUnrecoverablePosition, &error::kConcurrentPagination,
};

constexpr std::array kDisconnects = {
    &disconnect::kConnectionClosed, &disconnect::kShutdown,          &disconnect::kInternal,
    &disconnect::kExpired,          &disconnect::kSubExpired,        &disconnect::kSlow,
    &disconnect::kWriteError,       &disconnect::kInsufficientState, &disconnect::kForceReconnect,
    &disconnect::kNoPong,           &disconnect::kTooManyRequests,   &disconnect::kStateInvalidated,
    &disconnect::kInvalidToken,     &disconnect::kBadRequest,        &disconnect::kStale,
    &disconnect::kForceNoReconnect, &disconnect::kConnectionLimit,   &disconnect::kChannelLimit,
    &disconnect::kInappropriateProtocol, &disconnect::kPermissionDenied, &disconnect::kNotAvailable,
    &disconnect::kTooManyErrors,
};

constexpr std::array kUnsubscribes = {
    &unsubscribe::kServer,
    &unsubscribe::kInsufficientState,
    &unsubscribe::kExpired,
    &unsubscribe::kStateInvalidated,
};

template <typename Table, typename Code>
auto findIn(const Table& table, Code code) -> typename Table::value_type {
  for (auto* entry : table)
    if (entry->code == code) return entry;
  return nullptr;
}

}  // namespace

const ErrorCode* findError(uint32_t code) { return findIn(kErrors, code); }
const DisconnectCode* findDisconnect(uint16_t code) { return findIn(kDisconnects, code); }
const UnsubscribeCode* findUnsubscribe(uint32_t code) { return findIn(kUnsubscribes, code); }

}  // namespace sb::protocol
