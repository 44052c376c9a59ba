#pragma once
// The common front of the plain endpoints (/sse, later /ws and /poll): which
// channels, who asks (connection JWT or anonymous), may they subscribe, and
// where to resume. Everything is checked before anything is registered, so a
// refused request costs nothing and is answered with a precise HTTP status and
// a JSON body naming the problem.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/Node.h"
#include "http/Request.h"
#include "protocol/Model.h"

namespace sb::transport {

// Settings of the plain endpoints (defaults here; the config keys come later).
struct PlainOptions {
  uint64_t heartbeatMs = 15000;  // SSE comment heartbeat (": ping")
  uint32_t retryMs = 3000;       // SSE `retry:`: the browser's reconnect delay
  size_t maxChannels = 16;       // channels per request
  uint64_t pollTimeoutS = 25;    // /poll wait without ?timeout=
  uint64_t pollMaxTimeoutS = 60; // largest ?timeout= accepted
};

// A refusal: HTTP status and what was wrong.
struct PlainError {
  int status;
  std::string message;
};

struct PlainRequest {
  std::vector<std::string> channels;  // in request order
  std::string user;                   // empty = anonymous
  int64_t expiresAt = 0;              // connection token exp (unix s), 0 = never
  // Where to resume, one position per channel (request order); nullopt = live only.
  std::optional<std::vector<protocol::StreamPosition>> since;
};

// Reads `channel` parameters (1..opts.maxChannels, no repeats), the token
// (`Authorization: Bearer`, else `?token=`; none = anonymous when
// client.allow_anonymous), checks each channel as a protocol client's
// subscribe is checked (name, namespace, permission; `$` private channels
// need a subscription token and are refused), and parses `since`, a position
// list (PlainEvent.h) or empty, which came from `sinceName` (named in the
// message when it is bad). 400 bad or missing channel or position, 401
// missing, invalid or expired token, 403 not allowed.
std::optional<PlainError> readPlainRequest(const http::Request& req, const core::Node& node,
                                           const PlainOptions& opts, std::string_view since,
                                           std::string_view sinceName, PlainRequest& out);

}  // namespace sb::transport
