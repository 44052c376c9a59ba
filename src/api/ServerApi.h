#pragma once
// The server HTTP API, Centrifugo-compatible: POST /api/<method> with a JSON
// body and the key in `X-API-Key: <key>` (or `Authorization: apikey <key>`).
// Answers {"result":{...}} or {"error":{"code","message"}}; a missing or
// wrong key is 401, a malformed body 400 (error 107), and an API without a
// configured key refuses every call with 401 saying so.
#include <string>
#include <string_view>

#include "http/Router.h"

namespace sb::core {
class Node;
}

namespace sb::api {

// Registers /api/publish, /api/broadcast, /api/presence, /api/presence_stats,
// /api/history, /api/history_remove, /api/disconnect and /api/info.
void registerRoutes(http::Router& router, core::Node& node);

// The result of one API call: an HTTP status and a JSON body.
struct ApiReply {
  int status = 200;
  std::string body;
};

// Runs `method` with the JSON `body` (after authentication). Exposed for tests.
ApiReply call(core::Node& node, std::string_view method, std::string_view body);

}  // namespace sb::api
