#include "api/ServerApi.h"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "core/ClientSession.h"
#include "core/Node.h"
#include "http/HttpSession.h"
#include "http/Response.h"
#include "metrics/ServerMetrics.h"
#include "protocol/Codec.h"
#include "protocol/Json.h"
#include "util/Glob.h"

namespace sb::api {

namespace json = protocol::json;
namespace err = protocol::error;

namespace {

std::string errorObject(uint32_t code, std::string_view message) {
  std::string out = "{\"code\":" + std::to_string(code) + ",\"message\":";
  protocol::writeString(out, message);
  out += '}';
  return out;
}

std::string errorBody(uint32_t code, std::string_view message) {
  return "{\"error\":" + errorObject(code, message) + "}";
}

// What one API command produced: its result object, or an error object and
// the HTTP status a call of its own answers with. `bare` bodies (batch) are
// sent as they are instead of wrapped in {"result":...}.
struct Outcome {
  int status = 200;
  bool ok = true;
  std::string json;
  bool bare = false;
};

Outcome badRequest(std::string_view message) { return {400, false, errorObject(err::kBadRequest.code, message)}; }
Outcome apiError(const protocol::ErrorCode& e, std::string_view detail = {}) {
  return {200, false, errorObject(e.code, detail.empty() ? e.message : detail)};
}
Outcome result(std::string inner) { return {200, true, std::move(inner)}; }

// The request's members by name (last one wins), or an error message.
struct Params {
  std::string_view raw;  // the object's text (what parseParams read)
  std::vector<json::Member> members;
  const json::Member* find(std::string_view key) const {
    const json::Member* found = nullptr;
    for (const auto& m : members)
      if (m.key == key) found = &m;
    return found;
  }
};

std::optional<std::string> parseParams(std::string_view body, Params& p) {
  std::string_view trimmed = body;
  while (!trimmed.empty() && (trimmed.front() == ' ' || trimmed.front() == '\n' || trimmed.front() == '\r' ||
                              trimmed.front() == '\t'))
    trimmed.remove_prefix(1);
  if (trimmed.empty()) return std::string("request body must be a JSON object");
  std::string error;
  if (!json::validate(trimmed, &error)) return "malformed JSON: " + error;
  if (trimmed.front() != '{') return std::string("request body must be a JSON object");
  p.raw = trimmed;
  json::ObjectReader r(trimmed);
  json::Member m;
  while (r.next(m)) p.members.push_back(m);
  if (!r.ok()) return "malformed JSON: " + r.error();
  return std::nullopt;
}

// A required string member.
std::optional<std::string> stringParam(const Params& p, std::string_view key, std::string& error) {
  const json::Member* m = p.find(key);
  if (!m) {
    error = std::string(key) + " required";
    return std::nullopt;
  }
  auto v = json::asString(m->raw);
  if (!v) error = std::string(key) + " must be a string";
  return v;
}

// `data` as compact JSON (newlines would break the line-delimited protocol).
std::optional<std::string> dataParam(const Params& p, std::string& error) {
  const json::Member* m = p.find("data");
  if (!m) {
    error = "data required";
    return std::nullopt;
  }
  std::string out;
  if (!json::compact(m->raw, out, &error)) return std::nullopt;
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> tagsParam(const Params& p, std::string& error) {
  std::vector<std::pair<std::string, std::string>> tags;
  const json::Member* m = p.find("tags");
  if (!m || m->type == json::Type::Null) return tags;
  if (m->type != json::Type::Object) {
    error = "tags must be an object of strings";
    return std::nullopt;
  }
  json::ObjectReader r(m->raw);
  json::Member t;
  while (r.next(t)) {
    auto v = json::asString(t.raw);
    if (!v) {
      error = "tags must be an object of strings";
      return std::nullopt;
    }
    tags.emplace_back(t.key, *v);
  }
  return tags;
}

// An optional stream position {"offset":N,"epoch":"..."} (null = absent);
// false with `error` set when malformed.
bool positionParam(const Params& p, std::string_view key, std::optional<protocol::StreamPosition>& out,
                   std::string& error) {
  const json::Member* m = p.find(key);
  if (!m || m->type == json::Type::Null) return true;
  if (m->type != json::Type::Object) {
    error = std::string(key) + " must be {\"offset\":N,\"epoch\":\"...\"}";
    return false;
  }
  protocol::StreamPosition pos;
  json::ObjectReader r(m->raw);
  json::Member f;
  while (r.next(f)) {
    if (f.key == "offset") {
      auto v = json::asUint(f.raw);
      if (!v) {
        error = std::string(key) + ".offset must be a non-negative integer";
        return false;
      }
      pos.offset = *v;
    } else if (f.key == "epoch") {
      auto v = json::asString(f.raw);
      if (!v) {
        error = std::string(key) + ".epoch must be a string";
        return false;
      }
      pos.epoch = *v;
    }
  }
  out = pos;
  return true;
}

// An optional string member ("" when absent); false with `error` set when
// present with another type.
bool optionalString(const Params& p, std::string_view key, std::string& out, std::string& error) {
  const json::Member* m = p.find(key);
  if (!m || m->type == json::Type::Null) return true;
  auto v = json::asString(m->raw);
  if (!v) {
    error = std::string(key) + " must be a string";
    return false;
  }
  out = std::move(*v);
  return true;
}

// An optional JSON value of any type, compacted ("" when absent or null).
bool optionalJson(const Params& p, std::string_view key, std::string& out, std::string& error) {
  const json::Member* m = p.find(key);
  if (!m || m->type == json::Type::Null) return true;
  if (!json::compact(m->raw, out, &error)) {
    error = std::string(key) + ": " + error;
    return false;
  }
  return true;
}

// An optional boolean (false when absent).
bool optionalBool(const Params& p, std::string_view key, bool& out, std::string& error) {
  const json::Member* m = p.find(key);
  if (!m || m->type == json::Type::Null) return true;
  auto v = json::asBool(m->raw);
  if (!v) {
    error = std::string(key) + " must be a boolean";
    return false;
  }
  out = *v;
  return true;
}

// An optional unix time in seconds (0 when absent).
bool optionalUnixTime(const Params& p, std::string_view key, int64_t& out, std::string& error) {
  const json::Member* m = p.find(key);
  if (!m || m->type == json::Type::Null) return true;
  auto v = json::asInt(m->raw);
  if (!v || *v < 0) {
    error = std::string(key) + " must be a non-negative integer (unix seconds)";
    return false;
  }
  out = *v;
  return true;
}

std::string positionJson(const protocol::StreamPosition& pos) {
  std::string out = "{";
  if (pos.offset) out += "\"offset\":" + std::to_string(pos.offset);
  if (!pos.epoch.empty()) {
    if (out.size() > 1) out += ',';
    out += "\"epoch\":";
    protocol::writeString(out, pos.epoch);
  }
  out += '}';
  return out;
}

// Publishes one channel; returns the inner JSON of a result or an error.
struct PublishOutcome {
  bool ok = false;
  std::string json;  // result object or error object
};

PublishOutcome publishOne(core::Node& node, const std::string& channel, const std::string& data,
                          const std::vector<std::pair<std::string, std::string>>& tags,
                          const std::string& idempotencyKey) {
  PublishOutcome o;
  if (auto e = node.rules().checkName(channel)) {
    o.json = errorObject(e->code, e->message);
    return o;
  }
  if (!node.rules().options(channel)) {
    o.json = errorObject(err::kUnknownChannel.code, err::kUnknownChannel.message);
    return o;
  }
  bool done = false;
  node.publish(channel, data, std::nullopt, tags, idempotencyKey,
               [&](broker::PublishResult r, const broker::BrokerError* e) {
                 done = true;
                 if (e) {
                   o.json = errorObject(err::kInternal.code, e->message);
                 } else {
                   o.ok = true;
                   o.json = positionJson(r.position);
                 }
               });
  if (!done) {
    o.json = errorObject(err::kInternal.code, "broker did not answer");
  }
  return o;
}

Outcome doPublish(core::Node& node, const Params& p) {
  std::string error;
  auto channel = stringParam(p, "channel", error);
  if (!channel) return badRequest(error);
  auto data = dataParam(p, error);
  if (!data) return badRequest(error);
  auto tags = tagsParam(p, error);
  if (!tags) return badRequest(error);
  std::string key;
  if (const auto* m = p.find("idempotency_key")) {
    auto v = json::asString(m->raw);
    if (!v) return badRequest("idempotency_key must be a string");
    key = *v;
  }
  PublishOutcome o = publishOne(node, *channel, *data, *tags, key);
  if (!o.ok) return {200, false, std::move(o.json)};
  return result(std::move(o.json));
}

Outcome doBroadcast(core::Node& node, const Params& p) {
  std::string error;
  const json::Member* chans = p.find("channels");
  if (!chans || chans->type != json::Type::Array) return badRequest("channels required (an array of strings)");
  std::vector<std::string> channels;
  json::ArrayReader r(chans->raw);
  std::string_view raw;
  json::Type type;
  while (r.next(raw, type)) {
    auto v = json::asString(raw);
    if (!v) return badRequest("channels must be strings");
    channels.push_back(std::move(*v));
  }
  if (channels.empty()) return badRequest("channels must not be empty");
  if (channels.size() > 10000) return badRequest("at most 10000 channels per broadcast");
  auto data = dataParam(p, error);
  if (!data) return badRequest(error);
  auto tags = tagsParam(p, error);
  if (!tags) return badRequest(error);
  std::string out = "{\"responses\":[";
  for (size_t i = 0; i < channels.size(); ++i) {
    if (i) out += ',';
    PublishOutcome o = publishOne(node, channels[i], *data, *tags, {});
    out += o.ok ? "{\"result\":" : "{\"error\":";
    out += o.json;
    out += '}';
  }
  out += "]}";
  return result(out);
}

// A channel that exists (known namespace, valid name), for read methods.
std::optional<Outcome> checkChannel(core::Node& node, const std::string& channel) {
  if (auto e = node.rules().checkName(channel)) return apiError(*e);
  if (!node.rules().options(channel)) return apiError(err::kUnknownChannel);
  return std::nullopt;
}

Outcome doPresence(core::Node& node, const Params& p, bool stats) {
  std::string error;
  auto channel = stringParam(p, "channel", error);
  if (!channel) return badRequest(error);
  if (auto e = checkChannel(node, *channel)) return *e;
  if (!node.rules().options(*channel)->presence) return apiError(err::kNotAvailable, "presence is off in this namespace");
  Outcome reply = apiError(err::kInternal, "broker did not answer");
  if (stats) {
    node.broker().presenceStats(*channel, [&](broker::PresenceStats s, const broker::BrokerError* e) {
      if (e) reply = apiError(err::kInternal, e->message);
      else
        reply = result("{\"num_clients\":" + std::to_string(s.numClients) +
                       ",\"num_users\":" + std::to_string(s.numUsers) + "}");
    });
  } else {
    node.broker().presence(*channel, [&](std::unordered_map<std::string, protocol::ClientInfo> m,
                                         const broker::BrokerError* e) {
      if (e) {
        reply = apiError(err::kInternal, e->message);
        return;
      }
      std::string out = "{\"presence\":{";
      bool first = true;
      for (const auto& [id, info] : m) {
        if (!first) out += ',';
        first = false;
        protocol::writeString(out, id);
        out += ':';
        protocol::writeClientInfo(out, info);
      }
      out += "}}";
      reply = result(out);
    });
  }
  return reply;
}

Outcome doHistory(core::Node& node, const Params& p) {
  std::string error;
  auto channel = stringParam(p, "channel", error);
  if (!channel) return badRequest(error);
  if (auto e = checkChannel(node, *channel)) return *e;
  const config::ChannelOptions* opts = node.rules().options(*channel);
  if (!opts->historyEnabled()) return apiError(err::kNotAvailable, "history is off in this namespace");
  broker::HistoryRequest req;
  req.historyTtl = opts->history_ttl;
  req.metaTtl = node.config().broker.history_meta_ttl;
  if (const auto* m = p.find("limit")) {
    auto v = json::asInt(m->raw);
    if (!v || *v < -1 || *v > 1000000) return badRequest("limit must be an integer from -1 to 1000000");
    req.limit = int(*v);
  }
  if (const auto* m = p.find("reverse")) {
    auto v = json::asBool(m->raw);
    if (!v) return badRequest("reverse must be a boolean");
    req.reverse = *v;
  }
  if (!positionParam(p, "since", req.since, error)) return badRequest(error);
  Outcome reply = apiError(err::kInternal, "broker did not answer");
  node.broker().history(*channel, req, [&](broker::HistoryResult h, const broker::BrokerError* e) {
    if (e) {
      reply = apiError(err::kInternal, e->message);
      return;
    }
    if (req.since && (req.since->epoch != h.position.epoch || !h.sinceRetained)) {
      reply = apiError(err::kUnrecoverablePosition);
      return;
    }
    std::string out = "{\"publications\":[";
    for (size_t i = 0; i < h.publications.size(); ++i) {
      if (i) out += ',';
      protocol::writePublication(out, *h.publications[i]);
    }
    out += "],\"epoch\":";
    protocol::writeString(out, h.position.epoch);
    out += ",\"offset\":" + std::to_string(h.position.offset) + "}";
    reply = result(out);
  });
  return reply;
}

Outcome doHistoryRemove(core::Node& node, const Params& p) {
  std::string error;
  auto channel = stringParam(p, "channel", error);
  if (!channel) return badRequest(error);
  if (auto e = checkChannel(node, *channel)) return *e;
  Outcome reply = apiError(err::kInternal, "broker did not answer");
  node.broker().removeHistory(*channel, [&](bool, const broker::BrokerError* e) {
    reply = e ? apiError(err::kInternal, e->message) : result("{}");
  });
  return reply;
}

// The sessions a user-targeted call acts on: every connection of `user` on
// this node, or only the one with id `client` when it is set. Sessions live
// on their workers' threads, so `act` is posted to each worker and the call
// answers before it ran (as Centrifugo answers once the action is sent).
template <class Act>
void forUserSessions(core::Node& node, std::string user, std::string client, Act act) {
  node.hub().forEachWorker([&node, user = std::move(user), client = std::move(client), act](size_t w) {
    node.forEachSession(w, [&](core::ClientSession& s) {
      if (s.connected() && s.user() == user && (client.empty() || s.clientId() == client)) act(s);
    });
  });
}

// The `user` and optional `client` every user-targeted method takes.
struct Target {
  std::string user, client;
};
std::optional<Target> targetParams(const Params& p, std::string& error) {
  auto user = stringParam(p, "user", error);
  if (!user) return std::nullopt;
  Target t{std::move(*user), {}};
  if (!optionalString(p, "client", t.client, error)) return std::nullopt;
  return t;
}

// subscribe/unsubscribe: the user (and client) and a valid channel, or the
// answer that refuses them.
std::optional<Outcome> userChannelParams(core::Node& node, const Params& p, std::optional<Target>& target,
                                         std::optional<std::string>& channel) {
  std::string error;
  target = targetParams(p, error);
  if (!target) return badRequest(error);
  channel = stringParam(p, "channel", error);
  if (!channel) return badRequest(error);
  return checkChannel(node, *channel);
}

Outcome doSubscribeLocal(core::Node& node, const Params& p) {
  std::optional<Target> target;
  std::optional<std::string> channel;
  if (auto refused = userChannelParams(node, p, target, channel)) return *refused;
  std::string error;
  auto req = std::make_shared<core::ServerSubscribeRequest>();
  req->channel = std::move(*channel);
  if (!optionalJson(p, "info", req->info, error) || !optionalJson(p, "data", req->data, error) ||
      !optionalUnixTime(p, "expire_at", req->expireAt, error) ||
      !positionParam(p, "recover_since", req->recoverSince, error))
    return badRequest(error);
  forUserSessions(node, std::move(target->user), std::move(target->client),
                  [req](core::ClientSession& s) { s.serverSubscribe(*req); });
  return result("{}");
}

Outcome doUnsubscribeLocal(core::Node& node, const Params& p) {
  std::optional<Target> target;
  std::optional<std::string> channel;
  if (auto refused = userChannelParams(node, p, target, channel)) return *refused;
  forUserSessions(node, std::move(target->user), std::move(target->client),
                  [channel = std::move(*channel)](core::ClientSession& s) { s.serverUnsubscribe(channel); });
  return result("{}");
}

Outcome doRefreshLocal(core::Node& node, const Params& p) {
  std::string error;
  auto target = targetParams(p, error);
  if (!target) return badRequest(error);
  bool expired = false;
  int64_t expireAt = 0;
  std::string info;
  if (!optionalBool(p, "expired", expired, error) || !optionalUnixTime(p, "expire_at", expireAt, error) ||
      !optionalJson(p, "info", info, error))
    return badRequest(error);
  forUserSessions(node, std::move(target->user), std::move(target->client),
                  [expired, expireAt, info = std::move(info)](core::ClientSession& s) {
                    s.serverRefresh(expired, expireAt, info);
                  });
  return result("{}");
}

Outcome doDisconnectLocal(core::Node& node, const Params& p) {
  std::string error;
  auto target = targetParams(p, error);
  if (!target) return badRequest(error);
  uint16_t code = protocol::disconnect::kForceNoReconnect.code;
  std::string reason(protocol::disconnect::kForceNoReconnect.reason);
  // Centrifugo's shape {"disconnect":{"code","reason"}} or top-level code/reason.
  auto readCode = [&](const Params& src, std::string_view prefix) -> std::optional<std::string> {
    if (const auto* m = src.find("code")) {
      auto v = json::asUint(m->raw);
      if (!v || *v < 3000 || *v > 4999) return std::string(prefix) + "code must be an integer from 3000 to 4999";
      code = uint16_t(*v);
      if (const auto* known = protocol::findDisconnect(code)) reason = known->reason;
    }
    if (const auto* m = src.find("reason")) {
      auto v = json::asString(m->raw);
      if (!v || v->size() > 120) return std::string(prefix) + "reason must be a string of at most 120 bytes";
      reason = *v;
    }
    return std::nullopt;
  };
  if (auto e = readCode(p, "")) return badRequest(*e);
  if (const auto* m = p.find("disconnect"); m && m->type != json::Type::Null) {
    if (m->type != json::Type::Object) return badRequest("disconnect must be {\"code\":N,\"reason\":\"...\"}");
    Params inner;
    if (auto e = parseParams(m->raw, inner)) return badRequest(*e);
    if (auto e = readCode(inner, "disconnect.")) return badRequest(*e);
  }
  // Client ids that keep their connection (Centrifugo's `whitelist`).
  std::vector<std::string> whitelist;
  if (const auto* m = p.find("whitelist"); m && m->type != json::Type::Null) {
    if (m->type != json::Type::Array) return badRequest("whitelist must be an array of client ids");
    json::ArrayReader r(m->raw);
    std::string_view raw;
    json::Type type;
    while (r.next(raw, type)) {
      auto v = json::asString(raw);
      if (!v) return badRequest("whitelist must be an array of client ids");
      whitelist.push_back(std::move(*v));
    }
  }
  // Plain /sse and /ws streams of the user end too (docs/plain.md).
  node.hub().forEachWorker([&node, user = target->user, client = target->client, code, reason,
                            whitelist](size_t w) {
    node.forEachStream(w, [&](core::UserStream& s) {
      if (s.streamUser() != user || (!client.empty() && s.streamClient() != client)) return;
      if (std::find(whitelist.begin(), whitelist.end(), s.streamClient()) == whitelist.end())
        s.disconnectStream(code, reason);
    });
  });
  forUserSessions(node, std::move(target->user), std::move(target->client),
                  [code, reason = std::move(reason), whitelist = std::move(whitelist)](core::ClientSession& s) {
                    if (std::find(whitelist.begin(), whitelist.end(), s.clientId()) == whitelist.end())
                      s.disconnect(code, reason);
                  });
  return result("{}");
}

// An action by user acts on this node's sessions, then goes to every other
// node in a control message ("api": {"method","params"}) so that the user's
// connections there get it too; each node checks the params again. Errors
// of the local part answer at once; a control message the broker refused
// answers error 100. A broker that answers later (Redis) is not waited for:
// the message is queued on the connection, and a failure is logged.
Outcome onEveryNode(core::Node& node, const Params& p, std::string_view method,
                    Outcome (*local)(core::Node&, const Params&)) {
  Outcome o = local(node, p);
  if (!o.ok) return o;
  std::string body = "{\"method\":";
  protocol::writeString(body, method);
  body += ",\"params\":";
  if (!json::compact(p.raw, body)) return apiError(err::kInternal, "params could not be re-encoded");
  body += '}';
  // The callback may run now (memory broker) or later, on this thread, after
  // this call answered (Redis): it reaches the answer only while it waits.
  struct Pending {
    bool waiting = true;
    std::optional<std::string> failure;
  };
  auto pending = std::make_shared<Pending>();
  node.control().send("api", "", std::move(body),
                      [pending, m = std::string(method)](bool, const broker::BrokerError* e) {
                        if (!e) return;
                        spdlog::warn("server API: {} not sent to the other nodes: {}", m, e->message);
                        if (pending->waiting) pending->failure = e->message;
                      });
  pending->waiting = false;
  if (pending->failure) return apiError(err::kInternal, "not sent to the other nodes: " + *pending->failure);
  return o;
}

Outcome doSubscribe(core::Node& node, const Params& p) {
  return onEveryNode(node, p, "subscribe", doSubscribeLocal);
}
Outcome doUnsubscribe(core::Node& node, const Params& p) {
  return onEveryNode(node, p, "unsubscribe", doUnsubscribeLocal);
}
Outcome doRefresh(core::Node& node, const Params& p) { return onEveryNode(node, p, "refresh", doRefreshLocal); }
Outcome doDisconnect(core::Node& node, const Params& p) {
  return onEveryNode(node, p, "disconnect", doDisconnectLocal);
}

// Runs an "api" control message from another node on this node's sessions.
void runFromOtherNode(core::Node& node, const core::ControlMessage& m) {
  Params body;
  if (auto e = parseParams(m.body, body)) {
    spdlog::warn("server API: dropped an action from node {}: {}", m.from, *e);
    return;
  }
  const json::Member* method = body.find("method");
  const json::Member* params = body.find("params");
  auto name = method ? json::asString(method->raw) : std::nullopt;
  Outcome (*local)(core::Node&, const Params&) = nullptr;
  if (name == "subscribe") local = doSubscribeLocal;
  else if (name == "unsubscribe") local = doUnsubscribeLocal;
  else if (name == "refresh") local = doRefreshLocal;
  else if (name == "disconnect") local = doDisconnectLocal;
  Params p;
  if (!local || !params || parseParams(params->raw, p)) {
    spdlog::warn("server API: dropped an action from node {}: unknown method or no params", m.from);
    return;
  }
  Outcome o = local(node, p);
  if (!o.ok) spdlog::warn("server API: {} from node {} failed here: {}", *name, m.from, o.json);
}

Outcome doChannels(core::Node& node, const Params& p) {
  std::string error, pattern;
  if (!optionalString(p, "pattern", pattern, error)) return badRequest(error);
  std::function<bool(std::string_view)> keep;
  if (!pattern.empty()) keep = [&pattern](std::string_view name) { return util::globMatch(pattern, name); };
  auto counts = node.hub().channelCounts(keep);
  std::sort(counts.begin(), counts.end());
  std::string out = "{\"channels\":{";
  for (size_t i = 0; i < counts.size(); ++i) {
    if (i) out += ',';
    protocol::writeString(out, counts[i].first);
    out += ":{\"num_clients\":" + std::to_string(counts[i].second) + "}";
  }
  out += "}}";
  return result(std::move(out));
}

// Every live node: this one with fresh counts and its own statistics, the
// others as their last heartbeat said (ControlChannel).
Outcome doInfo(core::Node& node, const Params&) {
  std::string out = "{\"nodes\":[";
  auto nodes = node.control().nodes();
  for (size_t i = 0; i < nodes.size(); ++i) {
    const core::NodeInfo& n = nodes[i];
    std::string one = core::encodeNodeInfo(n);
    if (i == 0) {  // this node: what only it knows
      one.pop_back();
      one += ",\"broker\":";
      protocol::writeString(one, node.broker().name());
      one += ",\"publications\":" + std::to_string(node.hub().stats().publications.load());
      one += ",\"deliveries\":" + std::to_string(node.hub().stats().deliveries.load());
      one += ",\"frames_encoded\":" + std::to_string(node.hub().stats().framesEncoded.load());
      one += '}';
    } else {
      out += ',';
    }
    out += one;
  }
  out += "]}";
  return result(std::move(out));
}

// Constant-time key comparison.
bool keyMatches(std::string_view given, const std::string& key) {
  return given.size() == key.size() && CRYPTO_memcmp(given.data(), key.data(), key.size()) == 0;
}

Outcome doBatch(core::Node& node, const Params& p);

struct MethodDef {
  std::string_view name;
  Outcome (*run)(core::Node&, const Params&);
};

// Every method, by its name in /api/<name>, in batch commands and in the
// legacy {"method": ...} form.
const MethodDef kMethods[] = {
    {"publish", doPublish},
    {"broadcast", doBroadcast},
    {"subscribe", doSubscribe},
    {"unsubscribe", doUnsubscribe},
    {"disconnect", doDisconnect},
    {"refresh", doRefresh},
    {"presence", [](core::Node& n, const Params& p) { return doPresence(n, p, false); }},
    {"presence_stats", [](core::Node& n, const Params& p) { return doPresence(n, p, true); }},
    {"history", doHistory},
    {"history_remove", doHistoryRemove},
    {"channels", doChannels},
    {"info", doInfo},
    {"batch", doBatch},
};

const MethodDef* findMethod(std::string_view name) {
  for (const auto& m : kMethods)
    if (m.name == name) return &m;
  return nullptr;
}

Outcome unknownMethod(std::string_view name) {
  return {404, false, errorObject(err::kMethodNotFound.code, "unknown API method '" + std::string(name) + "'")};
}

// Runs `method` on a JSON body (an object; `info` also takes an empty body).
Outcome run(core::Node& node, std::string_view method, std::string_view body) {
  const MethodDef* def = findMethod(method);
  if (!def) return unknownMethod(method);
  Params p;
  bool blank = body.find_first_not_of(" \t\r\n") == std::string_view::npos;
  if (!(blank && method == "info"))
    if (auto e = parseParams(body, p)) return badRequest(*e);
  return def->run(node, p);
}

// {"commands":[{"<method>":{params}}, ...], "parallel":bool} answers
// {"replies":[{"<method>":{result}} or {"error":{...}}, ...]} in command order;
// a bad command fails only its own reply. Commands run one after another on
// this thread, so `parallel` changes nothing.
Outcome doBatch(core::Node& node, const Params& p) {
  constexpr size_t kMaxCommands = 10000;
  const json::Member* commands = p.find("commands");
  if (!commands || commands->type != json::Type::Array)
    return badRequest("commands required (an array of {\"<method>\":{params}} objects)");
  std::string error;
  bool parallel = false;
  if (!optionalBool(p, "parallel", parallel, error)) return badRequest(error);
  std::string out = "{\"replies\":[";
  json::ArrayReader r(commands->raw);
  std::string_view raw;
  json::Type type;
  size_t count = 0;
  while (r.next(raw, type)) {
    if (++count > kMaxCommands) return badRequest("at most 10000 commands per batch");
    if (count > 1) out += ',';
    Outcome o;
    std::string method;
    std::string_view params;
    size_t members = 0;
    if (type == json::Type::Object) {
      json::ObjectReader cr(raw);
      json::Member m;
      while (cr.next(m)) {
        ++members;
        method = m.key;
        params = m.raw;
      }
    }
    if (type != json::Type::Object || members != 1) {
      o = badRequest("a batch command must be an object with one member, {\"<method>\":{params}}");
    } else if (method == "batch") {
      o = unknownMethod("batch (batches do not nest)");
    } else {
      o = run(node, method, params);
    }
    if (o.ok) {
      out += '{';
      protocol::writeString(out, method);
      out += ':';
      out += o.json;
      out += '}';
    } else {
      out += "{\"error\":" + o.json + "}";
    }
  }
  out += "]}";
  Outcome batch = result(std::move(out));
  batch.bare = true;
  return batch;
}

ApiReply render(Outcome o) {
  if (o.bare) return {o.status, std::move(o.json)};
  return {o.status, (o.ok ? "{\"result\":" : "{\"error\":") + o.json + "}"};
}

// The legacy endpoint's numeric method codes (Centrifugo's Command.MethodType).
constexpr std::string_view kLegacyMethodNumbers[] = {
    "publish",  "broadcast", "unsubscribe", "disconnect", "presence", "presence_stats", "history",
    "history_remove", "channels", "info", "rpc", "subscribe", "refresh"};

// The end of the JSON value starting at text[0] ('{' or '['), or npos when it
// does not end; strings (with escapes) may hold brackets.
size_t valueEnd(std::string_view text) {
  int depth = 0;
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\') ++i;
      else if (c == '"') inString = false;
    } else if (c == '"') {
      inString = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
  }
  return std::string_view::npos;
}

}  // namespace

ApiReply call(core::Node& node, std::string_view method, std::string_view body) {
  return render(run(node, method, body));
}

ApiReply callLegacy(core::Node& node, std::string_view body) {
  constexpr size_t kMaxCommands = 10000;
  constexpr std::string_view kBlank = " \t\r\n";
  std::string out;
  size_t count = 0;
  size_t at = body.find_first_not_of(kBlank);
  if (at == std::string_view::npos) return render(badRequest("request body must hold {\"method\",\"params\"} commands"));
  for (; at != std::string_view::npos; at = body.find_first_not_of(kBlank, at)) {
    if (++count > kMaxCommands) return render(badRequest("at most 10000 commands per request"));
    std::string_view rest = body.substr(at);
    size_t end = rest.front() == '{' ? valueEnd(rest) : std::string_view::npos;
    std::string error;
    if (end == std::string_view::npos || !json::validate(rest.substr(0, end), &error))
      return render(badRequest(fmt::format("command {}: {}", count,
                                           error.empty() ? "expected a JSON object {\"method\",\"params\"}"
                                                         : "malformed JSON: " + error)));
    Params cmd;
    parseParams(rest.substr(0, end), cmd);
    at += end;

    // {"id"?, "method": "publish" | 0, "params": {...}} → {"id"?, "result" | "error"}
    uint64_t id = 0;
    std::string method;
    Outcome o;
    if (const auto* m = cmd.find("id")) id = json::asUint(m->raw).value_or(0);
    const json::Member* m = cmd.find("method");
    if (!m) {
      o = badRequest("method required");
    } else if (auto name = json::asString(m->raw)) {
      method = *name;
      for (char& c : method) c = char(std::tolower(static_cast<unsigned char>(c)));
    } else if (auto number = json::asUint(m->raw); number && *number < std::size(kLegacyMethodNumbers)) {
      method = kLegacyMethodNumbers[*number];
    } else {
      o = unknownMethod(std::string(m->raw));
    }
    if (!method.empty()) {
      const json::Member* params = cmd.find("params");
      o = method == "batch" ? unknownMethod(method) : run(node, method, params ? params->raw : "{}");
    }
    if (!out.empty()) out += '\n';
    out += '{';
    if (id) out += "\"id\":" + std::to_string(id) + ",";
    out += o.ok ? "\"result\":" : "\"error\":";
    out += o.json;
    out += '}';
  }
  return {200, std::move(out)};
}

void registerRoutes(http::Router& router, core::Node& node) {
  node.control().setHandler("api", [&node](const core::ControlMessage& m) { runFromOtherNode(node, m); });
  // Authenticates, then answers with `handle`'s reply.
  // `name` labels the call in /metrics.
  auto route = [&router, &node](std::string path, std::string name, auto handle) {
    router.add(std::move(path), {"POST"}, [&node, name, handle](http::HttpContext& ctx) {
      const std::string& key = node.config().api.key;
      std::string_view given = ctx.req.header("X-API-Key");
      if (given.empty()) {
        std::string_view auth = ctx.req.header("Authorization");
        if (auth.size() > 7 && http::iequals(auth.substr(0, 7), "apikey ")) given = auth.substr(7);
      }
      if (key.empty()) {
        metrics::apiCall(name, 401, {});
        ctx.session.respond(ctx.conn, ctx.req,
                            http::Response::json(401, errorBody(101, "the server API is disabled: set api.key")));
        return;
      }
      if (given.empty() || !keyMatches(given, key)) {
        metrics::apiCall(name, 401, {});
        ctx.session.respond(ctx.conn, ctx.req,
                            http::Response::json(401, errorBody(101, given.empty() ? "X-API-Key header required"
                                                                                    : "wrong API key")));
        return;
      }
      ApiReply r = handle(ctx.req.body);
      metrics::apiCall(name, r.status, r.body);
      ctx.session.respond(ctx.conn, ctx.req, http::Response::json(r.status, std::move(r.body)));
    });
  };
  for (const auto& method : kMethods) {
    std::string name(method.name);
    route("/api/" + name, name, [&node, name](std::string_view body) { return call(node, name, body); });
  }
  route("/api", "legacy", [&node](std::string_view body) { return callLegacy(node, body); });
}

}  // namespace sb::api
