#pragma once
// The server HTTP API, Centrifugo-compatible: POST /api/<method> with a JSON
// body and the key in `X-API-Key: <key>` (or `Authorization: apikey <key>`).
// Answers {"result":{...}} or {"error":{"code","message"}}; a missing or
// wrong key is 401, a malformed body 400 (error 107), an unknown method 404
// (error 104), and an API without a configured key refuses every call with
// 401 saying so. POST /api/batch runs several commands in one request, and
// POST /api takes Centrifugo's legacy {"method","params"} commands.
#include <functional>
#include <string>
#include <string_view>

#include "http/Router.h"

namespace sb::core {
class Node;
}

namespace sb::api {

// Registers /api/<method> for publish, broadcast, subscribe, unsubscribe,
// disconnect, refresh, presence, presence_stats, history, history_remove,
// channels, info and batch, and the legacy /api, on `router` (the main
// listener's, or the one of [api] listen).
void registerRoutes(http::Router& router, core::Node& node);

// The result of one API call: an HTTP status and a JSON body.
struct ApiReply {
  int status = 200;
  std::string body;
};

// Receives a call's reply, exactly once, on the calling thread: before the
// call returns with a synchronous broker (memory), on a later loop turn with
// a remote one (Redis). A broker failure is the JSON error 100 with the
// broker's message, as for a synchronous one.
using ApiDone = std::function<void(ApiReply)>;

// Runs `method` with the JSON `body` (after authentication). `body` need
// only live until the call returns.
void call(core::Node& node, std::string_view method, std::string_view body, ApiDone done);
// The legacy endpoint: `body` holds one or more {"id"?, "method", "params"}
// objects (the method by name, any case, or by Centrifugo's number); the
// answer holds one {"id"?, "result"|"error"} line per command, in order.
// Commands run one after another (as batch's), each once the previous one
// answered.
void callLegacy(core::Node& node, std::string_view body, ApiDone done);

// Synchronous forms for tests: valid only with a broker that answers before
// returning (memory); the process aborts, saying so, when the reply did not
// come inside the call.
ApiReply call(core::Node& node, std::string_view method, std::string_view body);
ApiReply callLegacy(core::Node& node, std::string_view body);

}  // namespace sb::api
