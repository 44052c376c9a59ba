#pragma once
// The common front of the plain endpoints (/sse, /ws, /poll, and the calls
// /publish, /presence, /history): which channels, who asks (connection JWT
// or anonymous), may they do it, and where to resume. Everything is checked before anything is registered, so a
// refused request costs nothing and is answered with a precise HTTP status and
// a JSON body naming the problem.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/ChannelRules.h"
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

// Who asks: the claims of the connection token, or anonymous.
struct PlainCaller {
  std::string user;       // empty = anonymous
  int64_t expiresAt = 0;  // connection token exp (unix s), 0 = never
  std::string connInfo;   // the token's "info" claim, raw compact JSON or empty
};

// Reads the token (`Authorization: Bearer`, else `?token=`) and verifies it
// as the client protocol's connect does. No token = anonymous, allowed only
// with client.allow_anonymous. 401 when missing, invalid or expired.
std::optional<PlainError> readPlainCaller(const http::Request& req, const core::Node& node, PlainCaller& out);

struct PlainRequest {
  std::vector<std::string> channels;  // in request order
  std::string user;                   // empty = anonymous
  int64_t expiresAt = 0;              // connection token exp (unix s), 0 = never
  std::string connInfo;               // the token's "info" claim (presence, join/leave)
  // `?join_leave=true`: the client wants join/leave events where the
  // namespace has join_leave (force_push_join_leave sends them anyway).
  bool joinLeave = false;
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

// A call on one channel (/publish, /presence, /history): `?channel=`, the
// caller, and the permission for `action` decided by auth::ChannelRules
// exactly as for a protocol client. A plain call has no connection, so it
// counts as "subscribed" (the *_for_subscriber options) only when
// `?client=` names a live /sse or /ws stream of the same user that holds
// the channel's presence (the `client` of its subscribed message); `client`
// is then that id, else empty. 400 missing or bad channel, unknown
// namespace; 401 as readPlainCaller; 403 not allowed; 404 the namespace
// does not offer `action` (presence or history off).
struct PlainChannelCall {
  std::string channel;
  PlainCaller caller;
  std::string client;  // the caller's verified stream id, or empty
};
// `done` gets the refusal or the call, on this thread, maybe later (the
// "subscribed" check reads the channel's presence from the broker); `req`
// need only live until this returns.
using PlainChannelCallDone = std::function<void(std::optional<PlainError>, PlainChannelCall)>;
void readPlainChannelCall(const http::Request& req, core::Node& node, auth::Action action,
                          PlainChannelCallDone done);

// A refusal by auth::ChannelRules (checkName or check) on `channel` for
// `action`, as the HTTP status and message of a plain endpoint.
PlainError plainChannelError(const protocol::ErrorCode& e, auth::Action action, std::string_view channel);

}  // namespace sb::transport
