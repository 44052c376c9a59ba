#pragma once
// The Centrifugo client protocol v2, JSON format: parsing commands and
// encoding replies and pushes. Pure functions over bytes, no I/O.
//
// Framing: one WebSocket message (or HTTP body) carries one or more commands,
// each a JSON object, separated by '\n'. Replies and pushes are written the
// same way. Raw JSON fields (`data`, `info`) are copied verbatim: on input they
// are validated; on output they must already be valid, compact JSON.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "protocol/Codes.h"
#include "protocol/Model.h"

namespace sb::protocol {

enum class Method : uint8_t {
  Empty,  // "{}": a pong to the server's ping
  Connect,
  Subscribe,
  Unsubscribe,
  Publish,
  Presence,
  PresenceStats,
  History,
  Ping,  // legacy client ping: answered with an empty result
  Send,
  Rpc,
  Refresh,
  SubRefresh,
};
std::string_view methodName(Method m);

struct SubscribeRequest {
  std::string channel;
  std::string token;
  bool recover = false;
  std::string epoch;
  uint64_t offset = 0;
  std::string data;  // raw JSON or empty
  bool positioned = false;
  bool recoverable = false;
  bool joinLeave = false;
};

struct ConnectRequest {
  std::string token;
  std::string data;  // raw JSON or empty
  std::vector<std::pair<std::string, SubscribeRequest>> subs;  // recovery of server-side subs
  std::string name;
  std::string version;
};

// One parsed command. Only the fields of `method` are meaningful; fields we
// do not implement (flag, headers, tf, delta, ...) are skipped after
// validation.
struct Command {
  uint32_t id = 0;  // 0 only for send and the empty pong
  Method method = Method::Empty;
  ConnectRequest connect;      // Connect
  SubscribeRequest subscribe;  // Subscribe
  std::string channel;  // Unsubscribe, Publish, Presence, PresenceStats, History, SubRefresh
  std::string token;    // Refresh, SubRefresh
  std::string data;     // Publish, Send, Rpc: raw JSON (Publish requires it)
  std::string rpcMethod;
  // History
  int32_t limit = 0;
  std::optional<StreamPosition> since;
  bool reverse = false;
};

// Parses every command in `frame`. On the first malformed command (bad JSON,
// wrong field types, no method, two methods, a missing id, a huge nesting
// depth, ...) stops and returns false with a short reason in `error`; the
// caller closes with 3501 (bad request). Empty lines are skipped.
bool parseCommands(std::string_view frame, std::vector<Command>& out, std::string& error);
// parseCommands refuses a frame with more commands than this (Centrifugo has
// no such bound; the SDK batches a few per frame and 128 channels per
// connection is the usual limit). `out` is cleared first; on failure it holds
// the commands before the bad one.
inline constexpr size_t kMaxCommandsPerFrame = 1000;

// Parses a bare ConnectRequest object ({"token":..,"subs":{..}}), as the
// unidirectional transports receive it: the whole of `text` must be one JSON
// object (or null, an empty request). False with a reason in `error`.
bool parseConnectRequest(std::string_view text, ConnectRequest& out, std::string& error);

// Results. Zero-valued fields are omitted on the wire.
struct SubscribeResult {
  bool expires = false;
  uint32_t ttl = 0;
  bool recoverable = false;
  std::string epoch;
  std::vector<PublicationPtr> publications;
  bool recovered = false;
  uint64_t offset = 0;
  bool positioned = false;
  std::string data;  // raw JSON
  bool wasRecovering = false;
};

struct ConnectResult {
  std::string client;
  std::string version;
  bool expires = false;
  uint32_t ttl = 0;
  std::string data;  // raw JSON
  std::vector<std::pair<std::string, SubscribeResult>> subs;
  uint32_t ping = 0;  // seconds
  bool pong = false;
  std::string session;
  std::string node;
};

struct RefreshResult {
  std::string client;
  std::string version;
  bool expires = false;
  uint32_t ttl = 0;
};

struct HistoryResult {
  std::vector<PublicationPtr> publications;
  std::string epoch;
  uint64_t offset = 0;
};

// Reply writers append one JSON object (no trailing newline) to `out`.
void writeError(std::string& out, uint32_t id, const ErrorCode& err);
void writeError(std::string& out, uint32_t id, uint32_t code, std::string_view message, bool temporary);
void writeConnectReply(std::string& out, uint32_t id, const ConnectResult& r);
void writeSubscribeReply(std::string& out, uint32_t id, const SubscribeResult& r);
void writeRefreshReply(std::string& out, uint32_t id, const RefreshResult& r);
void writeSubRefreshReply(std::string& out, uint32_t id, bool expires, uint32_t ttl);
void writeHistoryReply(std::string& out, uint32_t id, const HistoryResult& r);
void writePresenceReply(std::string& out, uint32_t id, const std::unordered_map<std::string, ClientInfo>& presence);
void writePresenceStatsReply(std::string& out, uint32_t id, uint32_t numClients, uint32_t numUsers);
// A reply with an empty result for `method`: {"id":N,"<method>":{}}
// (unsubscribe, publish, ping, rpc without data).
void writeEmptyReply(std::string& out, uint32_t id, Method method);
void writeRpcReply(std::string& out, uint32_t id, std::string_view data);
// The server's ping, and the reply to a client's empty pong: "{}".
void writePing(std::string& out);

// Pushes.
void writePublicationPush(std::string& out, std::string_view channel, const Publication& pub);
void writeJoinPush(std::string& out, std::string_view channel, const ClientInfo& info);
void writeLeavePush(std::string& out, std::string_view channel, const ClientInfo& info);
void writeUnsubscribePush(std::string& out, std::string_view channel, const UnsubscribeCode& code);
void writeSubscribePush(std::string& out, std::string_view channel, const SubscribeResult& r);
void writeMessagePush(std::string& out, std::string_view data);
void writeDisconnectPush(std::string& out, const DisconnectCode& code);
void writeDisconnectPush(std::string& out, uint16_t code, std::string_view reason);
void writeRefreshPush(std::string& out, bool expires, uint32_t ttl);
void writeConnectPush(std::string& out, const ConnectResult& r);  // uni transports

// A publication object (as inside a push or a history result).
void writePublication(std::string& out, const Publication& pub);
void writeClientInfo(std::string& out, const ClientInfo& info);
// A JSON string literal with escapes ("\"...\""). Control characters are
// escaped (\n, \u0001, ...); bytes that are not valid UTF-8 become U+FFFD,
// so the output is always valid JSON whatever the input.
void writeString(std::string& out, std::string_view s);

// Unidirectional transports send the Push object itself, without the
// {"push":...} envelope (as Centrifugo does). Given the output of any push
// writer above, returns the inner object (a view into `encodedPush`).
std::string_view unwrapPush(std::string_view encodedPush);

}  // namespace sb::protocol
